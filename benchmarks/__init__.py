"""Registry-scale harness: a synthetic-registry generator and ratio benchmarks (see benchmarks/README.md)."""
