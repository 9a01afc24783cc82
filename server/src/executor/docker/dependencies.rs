//! A step's dependencies (`links`, `depends_on`, and theirs): started fresh for the step,
//! dependencies first, reachable on the step network by name and alias, healthy before the
//! step starts.

use super::DockerRun;
use super::container::Attach;
use anyhow::{Context, Result, anyhow, bail};
use slipway_core::model::Service;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl DockerRun {
    /// Start `links`/`depends_on` services (and theirs) fresh for this step, dependencies
    /// first, each reachable on the step network by its name and link aliases.
    pub(super) async fn start_dependencies(
        self: &Arc<Self>,
        step: &str,
        svc: &Service,
        network: &str,
        cfg: Option<&slipway_core::dockercfg::DockerCfg>,
    ) -> Result<()> {
        let order = self.dependency_order(svc);
        for dep in order {
            let dsvc = self.spec.services.get(&dep).ok_or_else(|| anyhow!("unknown service `{dep}`"))?.clone();
            let image = self.image_for(&dep, step, cfg).await?;
            let mut aliases = vec![dep.clone()];
            for s in &self.spec.services.services {
                for l in &s.links {
                    if l.service.value == dep
                        && let Some(a) = &l.alias
                        && !aliases.contains(a)
                    {
                        aliases.push(a.clone());
                    }
                }
            }
            let attach = Attach { network, aliases };
            let id = self.create(&format!("{step}-dep-{dep}"), step, &dsvc, &image, None, Some(&attach), &[]).await?;
            self.docker.start_container(&id, None).await.with_context(|| format!("cannot start dependency `{dep}`"))?;
            self.wait_healthy(&id, &dep).await?;
        }
        Ok(())
    }

    fn dependency_order(&self, svc: &Service) -> Vec<String> {
        let mut order = Vec::new();
        let mut stack: Vec<(String, bool)> = svc
            .links
            .iter()
            .map(|l| &l.service)
            .chain(&svc.depends_on)
            .rev()
            .map(|s| (s.value.clone(), false))
            .collect();
        while let Some((name, expanded)) = stack.pop() {
            if order.contains(&name) {
                continue;
            }
            if expanded {
                order.push(name);
                continue;
            }
            stack.push((name.clone(), true));
            if let Some(s) = self.spec.services.get(&name) {
                for d in s.links.iter().map(|l| &l.service).chain(&s.depends_on).rev() {
                    if !order.contains(&d.value) && d.value != svc.name.value {
                        stack.push((d.value.clone(), false));
                    }
                }
            }
        }
        order
    }

    /// Wait for a dependency with a HEALTHCHECK to be healthy, polling every second.
    async fn wait_healthy(&self, id: &str, name: &str) -> Result<()> {
        let deadline = Instant::now() + self.spec.options.health_timeout;
        loop {
            let info = self.docker.inspect_container(id, None).await?;
            let state = info.state.unwrap_or_default();
            if state.running != Some(true) {
                bail!("dependency `{name}` exited (status {}) before the step started", state.exit_code.unwrap_or(-1));
            }
            let Some(health) = state.health else {
                return Ok(());
            };
            match health.status.map(|s| s.to_string()).as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => {
                    bail!("dependency `{name}` is unhealthy (its HEALTHCHECK failed)")
                }
                _ => {}
            }
            if Instant::now() > deadline {
                bail!(
                    "dependency `{name}` was not healthy after {}s; check its HEALTHCHECK",
                    self.spec.options.health_timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
