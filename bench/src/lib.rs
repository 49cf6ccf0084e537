//! Load harnesses for malipo; see bench/README.md.
