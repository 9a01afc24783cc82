//! What the two forges' `--mode slipway` files share: the `slipway steps` flags besides the
//! build values, and whether the job needs the project key.

use super::Cx;
use crate::argv::quote;

/// The `slipway steps` flags both forges pass besides the build values.
pub(super) fn flags(cx: &Cx) -> String {
    match cx.input.dir {
        "." | "" => String::new(),
        d => format!(" --dir {}", quote(d)),
    }
}

/// Whether the configuration references anything encrypted, so the job needs `codeship.aes`.
pub(super) fn needs_key(cx: &Cx) -> bool {
    !crate::model::encrypted_refs(&cx.input.checked.services, &cx.input.checked.steps).is_empty()
}
