//! Invalid-input corpus.
