#!/usr/bin/env bash
# Draw docs/architecture.dot into docs/images/architecture.svg and .png (graphviz's
# dot, installed by scripts/setup.sh). Run it after editing the DOT file.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
for fmt in svg png; do
  dot -T"$fmt" "$here/docs/architecture.dot" -o "$here/docs/images/architecture.$fmt"
done
echo "architecture: docs/images/architecture.svg, .png"
