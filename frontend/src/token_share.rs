//! The API token asked for once per browser session, not once per tab: a new tab asks the
//! studio's other open tabs for theirs over a `BroadcastChannel` (same origin only, in memory,
//! never written to disk) before it shows the token field. Each tab still keeps its copy in
//! session storage (`server_api::saved_token`), never in local storage.

use crate::server_api;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

const CHANNEL: &str = "slipway.token";
const ASK: &str = "ask";
/// An answer is `ANSWER` followed by the token.
const ANSWER: &str = "token:";
/// How long a new tab waits for another tab's answer. Other tabs answer from their event loop
/// at once (a background tab's timers are throttled, its messages are not).
const WAIT_MS: u32 = 400;
const POLL_MS: u32 = 20;

/// While it lives, this tab answers other tabs' requests with its token (if it has one).
pub struct Responder {
    channel: BroadcastChannel,
    _on_message: Closure<dyn Fn(MessageEvent)>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Answer requests from the other tabs; `None` where the browser has no `BroadcastChannel`.
pub fn answer_other_tabs() -> Option<Responder> {
    let channel = BroadcastChannel::new(CHANNEL).ok()?;
    let reply = channel.clone();
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
        if e.data().as_string().as_deref() == Some(ASK)
            && let Some(t) = server_api::saved_token()
        {
            let _ = reply.post_message(&format!("{ANSWER}{t}").into());
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Some(Responder { channel, _on_message: on_message })
}

/// The token of another open tab of the studio, if one answers within `WAIT_MS`.
pub async fn ask_other_tabs() -> Option<String> {
    let channel = BroadcastChannel::new(CHANNEL).ok()?;
    let got = Rc::new(RefCell::new(None::<String>));
    let on_message = {
        let got = got.clone();
        Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(t) = e.data().as_string().and_then(|s| s.strip_prefix(ANSWER).map(str::to_string))
                && !t.is_empty()
            {
                *got.borrow_mut() = Some(t);
            }
        })
    };
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let _ = channel.post_message(&ASK.into());
    let mut waited = 0;
    while got.borrow().is_none() && waited < WAIT_MS {
        gloo::timers::future::TimeoutFuture::new(POLL_MS).await;
        waited += POLL_MS;
    }
    channel.set_onmessage(None);
    channel.close();
    drop(on_message);
    got.borrow_mut().take()
}
