//! SW103 `dependency-cycle`: services that reach each other through `links`, `depends_on` or
//! `volumes_from` cannot be started in any order.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::ServicesFile;
use crate::source::SourceFile;
use std::collections::HashMap;

/// Depth-first search over links, depends_on and volumes_from; report each cycle once,
/// at the edge that closes it.
pub(super) fn check(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    let index: HashMap<&str, usize> =
        services.services.iter().enumerate().map(|(i, s)| (s.name.value.as_str(), i)).collect();
    let edges: Vec<Vec<(usize, crate::source::Span)>> = services
        .services
        .iter()
        .map(|s| {
            s.links
                .iter()
                .map(|l| &l.service)
                .chain(&s.depends_on)
                .chain(&s.volumes_from)
                .filter_map(|r| index.get(r.value.as_str()).map(|&i| (i, r.span)))
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done. Iterative to keep the stack flat.
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&(to, span)) = edges[node].get(*next) {
                *next += 1;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let mut names: Vec<&str> =
                            stack[pos..].iter().map(|(n, _)| services.services[*n].name.value.as_str()).collect();
                        names.push(&services.services[to].name.value);
                        diags.push(
                            Diagnostic::error(
                                Code::DependencyCycle,
                                file,
                                span,
                                format!("dependency cycle: {}", names.join(" → ")),
                            )
                            .with_help("remove one of these links/depends_on/volumes_from entries"),
                        );
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
}
