#!/usr/bin/env bash
# Installs a Vulkan driver that Dawn (the npm package `webgpu`) can use on a machine without a GPU:
# Mesa's lavapipe (a software Vulkan implementation) from bookworm-backports. Bookworm's own Mesa 22
# lacks a Vulkan feature Dawn requires, so Dawn finds no adapter with it; Mesa 25 from backports works.
# CI calls this before the tests so the WebGPU parity tests run instead of skipping.
# Idempotent: re-running it changes nothing once the packages are installed.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$BACKPORTS_LIST" ]; then
  # Same archive and keyring as the base system's debian.sources.
  $SUDO tee "$BACKPORTS_LIST" >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

$SUDO apt-get update
# -t pins this install (and the Mesa libraries it pulls in) to backports; everything else stays on
# bookworm. libvulkan1 is the Vulkan loader Dawn opens; lavapipe is in mesa-vulkan-drivers.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  -t bookworm-backports mesa-vulkan-drivers libvulkan1
