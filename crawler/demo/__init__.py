"""The bundled demo: loopback origins covering every consent mechanism, and the `consentry demo` command."""

from crawler.demo.command import add_parser, run

__all__ = ["add_parser", "run"]
