pub mod crypt;
pub mod explain;
pub mod generate;
pub mod plan;
pub mod rekey;
pub mod serve;
pub mod steps;
pub mod validate;
