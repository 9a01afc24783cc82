pub mod crypt;
pub mod explain;
pub mod generate;
pub mod lsp;
pub mod plan;
pub mod serve;
pub mod steps;
pub mod validate;
