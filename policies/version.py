"""The consentry version, recorded in every decision's `policy` block (docs/decision-record.md)."""

VERSION = "0.1.0"
