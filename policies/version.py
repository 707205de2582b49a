"""The consentry version, recorded in every decision's `policy` block (DESIGN.md, decision record)."""

VERSION = "0.1.0"
