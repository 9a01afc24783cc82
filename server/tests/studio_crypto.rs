//! The studio's crypto panel end to end: encryption that round-trips with the CLI, rekeying,
//! and nothing of the key or plaintext leaving the page.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use fantoccini::Locator;
use std::time::Duration;
use support::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_round_trips_with_the_cli_and_nothing_leaves_the_page() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("codeship.aes");
    slipway(&["generate", "--key-path", key_path.to_str().unwrap()]);
    let key = std::fs::read_to_string(&key_path).unwrap().trim().to_string();
    let plaintext = "API_TOKEN=page-secret-7f3a9\nDB_PASSWORD=correct horse battery\n";

    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_value("key-input", &key).await;
    // The key is hidden like a password until asked for; Decrypt's arrow points where it writes.
    let key_type = || b.js("return document.querySelector('[data-testid=key-input]').type");
    assert_eq!(key_type().await, "password");
    b.click("key-show").await;
    assert_eq!(key_type().await, "text");
    assert_eq!(b.value("key-input").await, key);
    b.click("key-show").await;
    assert_eq!(key_type().await, "password");
    assert!(b.texts("[data-testid=decrypt-button]").await[0].contains('↓'));
    b.set_value("plaintext-input", plaintext).await;
    b.client.find(Locator::Css("[data-testid=encrypt-button]")).await.unwrap().click().await.unwrap();
    b.wait("ciphertext", Duration::from_secs(2), || async {
        b.value("ciphertext-output").await.starts_with("slipway:aead1\n")
    })
    .await;
    let cipher = b.value("ciphertext-output").await;
    let enc = dir.path().join("page.encrypted");
    std::fs::write(&enc, &cipher).unwrap();
    let out = dir.path().join("page.decrypted");
    slipway(&["decrypt", "--key-path", key_path.to_str().unwrap(), enc.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), plaintext);

    // The other way: the CLI encrypts (both formats), the page decrypts.
    for format in ["v2", "aead"] {
        let src = dir.path().join("cli.env");
        std::fs::write(&src, "FROM_CLI=cli-secret-42\n").unwrap();
        let enc = dir.path().join(format!("cli.{format}.encrypted"));
        slipway(&[
            "encrypt",
            "--format",
            format,
            "--key-path",
            key_path.to_str().unwrap(),
            src.to_str().unwrap(),
            enc.to_str().unwrap(),
        ]);
        b.set_value("ciphertext-output", std::fs::read_to_string(&enc).unwrap().trim_end()).await;
        b.client.find(Locator::Css("[data-testid=decrypt-button]")).await.unwrap().click().await.unwrap();
        b.wait("plaintext", Duration::from_secs(2), || async {
            b.value("plaintext-output").await == "FROM_CLI=cli-secret-42\n"
        })
        .await;
        assert_eq!(
            b.texts("[data-testid=plaintext-kind]").await[0].split(" · ").next().unwrap(),
            "env file with 1: FROM_CLI"
        );
    }

    // No request carried the key or a plaintext, and the page may only talk to its origin.
    let log = server.requests();
    assert!(log.contains("\"uri\":\"/\""), "the request log is empty: {log}");
    for secret in [key.as_str(), "page-secret-7f3a9", "correct horse battery", "cli-secret-42", &cipher[14..40]] {
        assert!(!log.contains(secret), "a request carried {secret:?}");
    }
    let headers = server.index_headers().to_ascii_lowercase();
    let csp = headers.lines().find(|l| l.starts_with("content-security-policy:")).expect("CSP header");
    assert!(csp.contains("connect-src 'self'") && csp.contains("default-src 'self'"), "{csp}");
    b.close().await;
}

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/vectors");

/// Decrypt `cipher` with `key` in the page's crypto panel: the plaintext, or the error shown.
async fn decrypt_in_page(b: &Browser, key: &str, cipher: &str) -> Result<String, String> {
    paste(b, "key-input", key).await;
    paste(b, "ciphertext-output", cipher).await;
    // The callers alternate success and failure, so each decryption changes the message.
    let before = b.texts("[data-testid=crypto-message]").await;
    b.click("decrypt-button").await;
    b.wait("the decryption", Duration::from_secs(2), || async {
        let now = b.texts("[data-testid=crypto-message]").await;
        !now.is_empty() && now != before
    })
    .await;
    let message = b.texts("[data-testid=crypto-message]").await.join("");
    let ok = b.attr_list("[data-testid=crypto-message]", "class").await.join("").contains("ok");
    if ok { Ok(b.value("plaintext-output").await) } else { Err(message) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_in_the_page_keeps_formats_and_is_all_or_nothing() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let read = |name: &str| std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap();
    let key_a = read("jet-v2-generated/codeship.aes").trim().to_string();
    let env = read("jet-v2-generated/env");

    let b = Browser::start().await;
    b.open(&server.url).await;
    let steps = b.editor_text("steps").await;
    // Key A encrypts a file in the page (aead); jet's vectors add a v2 and a v1 file under it.
    paste(&b, "key-input", &key_a).await;
    paste(&b, "plaintext-input", "PAGE_SECRET=made-in-the-page\n").await;
    b.click("encrypt-button").await;
    b.wait("ciphertext", Duration::from_secs(2), || async {
        b.value("ciphertext-output").await.starts_with("slipway:aead1\n")
    })
    .await;
    let files = [
        ("env.encrypted", read("jet-v2-generated/env.encrypted")),
        ("env.v1.encrypted", read("jet-v2-generated/env.v1.encrypted")),
        ("page.encrypted", b.value("ciphertext-output").await),
    ];
    let originals = [env.as_str(), env.as_str(), "PAGE_SECRET=made-in-the-page\n"];

    // Key B, generated in the page.
    b.click("rekey-generate").await;
    let key_b = b.value("rekey-new-key").await;
    assert_eq!(key_b.len(), 44, "{key_b:?}");
    assert_ne!(key_b, key_a);

    drop_files(&b, "rekey-drop", &files).await;
    b.wait("three rekeyed files", Duration::from_secs(5), || async {
        b.texts("[data-testid=rekey-result]").await.len() == 3
    })
    .await;
    // The drop was the panel's: the studio did not take the files for configuration files
    // (it would say "Ignored env.encrypted: not a Codeship services or steps file").
    assert_eq!(b.editor_text("steps").await, steps);
    assert_eq!(b.texts("header.top .notice").await, Vec::<String>::new());
    let item = "[data-testid=rekey-result]";
    assert_eq!(b.attr_list(item, "data-name").await, files.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    assert_eq!(b.attr_list(item, "data-from").await, ["v2", "v1", "aead"]);
    // v2 and aead kept; v1 upgraded (to aead by default), and the page says so.
    assert_eq!(b.attr_list(item, "data-to").await, ["v2", "aead", "aead"]);
    assert!(b.texts(item).await[1].contains("v1 upgraded to aead"), "{:?}", b.texts(item).await);
    let outputs: Vec<String> = b
        .js("return [...document.querySelectorAll('[data-testid=rekey-output]')].map(e => e.value)")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(outputs[0].starts_with("codeship:v2\n") && outputs[2].starts_with("slipway:aead1\n"), "{outputs:?}");

    // Key B opens each result to the original bytes; key A opens none of them.
    for ((name, _), (out, original)) in files.iter().zip(outputs.iter().zip(originals)) {
        assert_eq!(decrypt_in_page(&b, &key_b, out).await.as_deref(), Ok(original), "{name} with the new key");
        let err = decrypt_in_page(&b, &key_a, out).await.expect_err("the old key still opens it");
        assert!(err.contains("checksum") || err.contains("authentication failed"), "{name}: {err}");
    }

    // v1 can become jet v2 instead (the key field holds key A again after the loop).
    b.js("const s = document.querySelector('[data-testid=rekey-v1-format]'); s.value = 'v2'; \
          s.dispatchEvent(new Event('change', { bubbles: true }))")
        .await;
    b.wait("v1 written as v2", Duration::from_secs(5), || async {
        b.attr_list(item, "data-to").await == ["v2", "v2", "aead"]
    })
    .await;

    // A wrong old key: an error naming the first file that fails, and nothing offered.
    let key_c = read("negative/wrong-key.aes").trim().to_string();
    paste(&b, "key-input", &key_c).await;
    drop_files(&b, "rekey-drop", &files).await;
    b.wait("the rekey error", Duration::from_secs(5), || async {
        !b.texts("[data-testid=rekey-error]").await.is_empty()
    })
    .await;
    let error = b.texts("[data-testid=rekey-error]").await.join("");
    assert!(error.starts_with("Nothing was rekeyed: env.encrypted: does not decrypt with the old key"), "{error}");
    assert!(b.texts(item).await.is_empty(), "files were offered despite the error");

    // Neither key nor any plaintext left the page.
    let log = server.requests();
    assert!(log.contains("\"uri\":\"/\""), "the request log is empty: {log}");
    for secret in [key_a.as_str(), key_b.as_str(), "made-in-the-page", "www.example.com"] {
        assert!(!log.contains(secret), "a request carried {secret:?}");
    }
    b.client.set_window_size(800, 900).await.unwrap();
    paste(&b, "key-input", &key_a).await;
    b.wait("the rekeyed files again", Duration::from_secs(5), || async {
        b.texts("[data-testid=rekey-result]").await.len() == 3
    })
    .await;
    b.js("document.querySelector('[data-testid=rekey]').scrollIntoView()").await;
    save_screenshot("studio-rekey.png", &b.client.screenshot().await.unwrap());
    b.close().await;
}
