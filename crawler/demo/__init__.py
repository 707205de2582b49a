"""The bundled demo: loopback origins covering every consent mechanism, and the `consentry demo` command."""
