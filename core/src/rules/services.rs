//! Rules on the services file: images, references between services, cycles, build args.

use super::{check_template, unknown_service};
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::ServicesFile;
use crate::source::SourceFile;
use std::collections::HashMap;

pub(super) fn check(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    for s in &services.services {
        if s.build.is_none() && s.image.is_none() {
            diags.push(
                Diagnostic::error(Code::NoBuildOrImage, file, s.name.span, format!("service `{}` has neither `build` nor `image`", s.name.value))
                    .with_help("add `image: <name>` to use an existing image, or `build: .` to build the Dockerfile next to this file"),
            );
        }
        let refs = s
            .links
            .iter()
            .map(|l| (&l.service, "links"))
            .chain(s.depends_on.iter().map(|d| (d, "depends_on")))
            .chain(s.volumes_from.iter().map(|d| (d, "volumes_from")))
            .chain(s.dockercfg_service.iter().map(|d| (d, "dockercfg_service")));
        for (r, key) in refs {
            if services.get(&r.value).is_none() {
                diags.push(unknown_service(
                    file,
                    r.span,
                    &r.value,
                    services,
                    &format!("`{key}` of service `{}`", s.name.value),
                ));
            }
        }
        if let Some(b) = &s.build {
            for (k, v) in &b.args {
                check_template(file, v.span, &v.value, &format!("build arg `{}`", k.value), diags);
            }
        }
    }
    cycles(file, services, diags);
}

/// Depth-first search over links, depends_on and volumes_from; report each cycle once,
/// at the edge that closes it.
fn cycles(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
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
