-- wrk reporter: one JSON line with throughput, latency percentiles (microseconds), error counts and
-- (with the argument "status") a count of responses per status code and of 503s carrying Retry-After.
-- Usage: wrk -t1 -c32 -d15s -s report.lua URL [-- status] [-- path]
local threads = {}
local count_status = false

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for _, a in ipairs(args) do
    if a == "status" then count_status = true end
  end
  statuses = {}
  retry_after = 0
  if count_status then
    response = function(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      if status == 503 and headers["Retry-After"] ~= nil then
        retry_after = retry_after + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local st, ra = {}, 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do st[k] = (st[k] or 0) + v end
    end
    ra = ra + (t:get("retry_after") or 0)
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, ' ..
    '"statuses": {%s}, "retry_after_503": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    table.concat(parts, ", "), ra))
end
