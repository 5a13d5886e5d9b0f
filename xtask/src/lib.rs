//! Corral developer workflows: test bed, images, benchmarks
