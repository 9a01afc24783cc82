//! Planning: from configuration and build values to the tree of steps that will run.

pub mod filter;
mod planner;
mod render;

pub use planner::{Kind, Plan, PlanOptions, PlannedStep, Status, assign_ids, plan};
pub use render::render_text;
