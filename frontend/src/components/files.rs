//! Files in and out of the page: downloads through a Blob URL, reads through gloo-file.
//! Nothing is uploaded anywhere.

use wasm_bindgen::JsCast;

/// Offer `bytes` as a download named `name`.
pub fn download(name: &str, bytes: &[u8], mime: &str) {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let document = gloo::utils::document();
    if let Ok(a) = document.create_element("a").map(|e| e.unchecked_into::<web_sys::HtmlAnchorElement>()) {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Read files the user picked or dropped; `done` gets (name, bytes) for each.
pub fn read_files(files: Vec<web_sys::File>, done: impl Fn(String, Vec<u8>) + 'static) {
    let done = std::rc::Rc::new(done);
    for f in files {
        let name = f.name();
        // A folder pick gives paths like "project/codeship-steps.yml": keep the base name.
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        let done = done.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let file = gloo::file::File::from(f);
            if let Ok(bytes) = gloo::file::futures::read_as_bytes(&file).await {
                done(base, bytes);
            }
        });
    }
}

pub fn file_list(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}
