"""Test support shipped with the package: the conformance app of the official protocol suites."""
