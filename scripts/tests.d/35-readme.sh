#!/usr/bin/env bash
# The code blocks of every Markdown file: each fence closed, and the C, C++,
# Go, Ruby, shell and JSON blocks compile or parse
# (scripts/check-readme-snippets.rb says how).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH" # gofmt
ruby scripts/check-readme-snippets.rb
