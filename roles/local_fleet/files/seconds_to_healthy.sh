#!/bin/sh
# Run inside a new host (podman exec -i HOST sh -s URL < this file): wait until URL answers 2xx, then print the
# seconds since the host's PID 1 started, one decimal: its start-to-healthy time.
# (/proc/1/stat field 22 is PID 1's start in clock ticks since boot; /proc/uptime the seconds since boot.)
url=$1
until curl -fsS -o /dev/null "$url"; do sleep 0.1; done
awk -v t="$(cut -d' ' -f22 /proc/1/stat)" -v hz="$(getconf CLK_TCK)" '{printf "%.1f", $1 - t / hz}' /proc/uptime
