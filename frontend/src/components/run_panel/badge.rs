//! The Markdown of a project's status badge (`GET /api/projects/{name}/badge.svg`), to copy
//! into a README: for the project and branch picked in the panel (`main` when the branch is
//! blank), on this page's origin (the server's address as the browser reaches it). The badge
//! shows without the token only for projects with `public_badge = true` in slipway.toml.

use yew::prelude::*;

/// `[![build](ORIGIN/api/projects/NAME/badge.svg?branch=BRANCH)](ORIGIN/)`, each part encoded
/// with `encode` (the page's `encodeURIComponent`).
pub(super) fn markdown(origin: &str, project: &str, branch: &str, encode: impl Fn(&str) -> String) -> String {
    let branch = match branch.trim() {
        "" => "main",
        b => b,
    };
    let origin = origin.trim_end_matches('/');
    format!("[![build]({origin}/api/projects/{}/badge.svg?branch={})]({origin}/)", encode(project), encode(branch))
}

pub(super) fn render(project: &str, branch: &str) -> Html {
    if project.is_empty() {
        return html! {};
    }
    let origin = gloo::utils::window().location().origin().unwrap_or_default();
    let text = markdown(&origin, project, branch, |s| String::from(js_sys::encode_uri_component(s)));
    html! {
        <p class="muted note">{ "Status badge (Markdown; public with `public_badge = true` in slipway.toml): " }
            <code class="mono" data-testid="badge-markdown">{ text }</code></p>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_markdown_names_the_project_and_branch_encoded() {
        let encode = |s: &str| s.replace('/', "%2F").replace(' ', "%20");
        assert_eq!(
            super::markdown("https://ci.example.com/", "web", " release/1 ", encode),
            "[![build](https://ci.example.com/api/projects/web/badge.svg?branch=release%2F1)](https://ci.example.com/)"
        );
        assert!(super::markdown("http://h", "web", "", encode).contains("branch=main"));
    }
}
