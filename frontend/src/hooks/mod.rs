pub mod use_debounced;
