"""Image data: scikit-learn's 8×8 digits (bundled), MNIST / Fashion-MNIST (downloaded and
verified) and the IDX file format."""
