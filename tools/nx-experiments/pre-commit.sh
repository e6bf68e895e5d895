#!/bin/sh
# A git pre-commit hook: checks the experiments a commit touches before it is made, without
# training (the runner's validate, through each experiment's cached Nx `validate` target).
# A staged experiment is checked, and so is every experiment that extends a staged file or loads
# a staged plugin; a staged change to the runner or a library it imports checks them all.
# Results are cached, so experiments already checked in this state are not checked again.
#
# Install:  ln -s ../../tools/nx-experiments/pre-commit.sh .git/hooks/pre-commit
# Skip once: git commit --no-verify
set -eu
cd "$(git rev-parse --show-toplevel)"
staged=$(git diff --cached --name-only --diff-filter=ACMRD | paste -sd, -)
[ -n "$staged" ] || exit 0
exec npx nx affected -t validate --files="$staged" --outputStyle=static
