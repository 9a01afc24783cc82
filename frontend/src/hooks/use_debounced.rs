//! A value that follows another after it has stopped changing for `ms` milliseconds, so
//! validation runs after a pause in typing instead of on every keystroke.

use gloo::timers::callback::Timeout;
use yew::prelude::*;

#[hook]
pub fn use_debounced<T: Clone + PartialEq + 'static>(value: T, ms: u32) -> T {
    let settled = use_state(|| value.clone());
    {
        let settled = settled.clone();
        use_effect_with(value, move |v| {
            let v = v.clone();
            let timer = Timeout::new(ms, move || settled.set(v));
            move || drop(timer)
        });
    }
    (*settled).clone()
}
