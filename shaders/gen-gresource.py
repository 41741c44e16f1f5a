#!/usr/bin/env python3
# Writes the GResource manifest for the compiled shaders: gen-gresource.py OUT NAME...
import sys

out, names = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<gresources>\n')
    f.write('  <gresource prefix="/io/github/likeness/shaders">\n')
    for name in names:
        f.write(f"    <file>{name}.spv</file>\n")
    f.write("  </gresource>\n</gresources>\n")
