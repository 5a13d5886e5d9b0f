//! Corral test bed: private Docker Engine, locally built images
