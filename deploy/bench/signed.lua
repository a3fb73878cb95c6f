-- wrk script: replays pre-signed Standard Webhooks requests (see insightd-bench signed-requests).
-- Each wrk thread takes every Nth line, so no webhook-id or event id is sent twice.
local requests = {}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] or "/tmp/insightd-requests.tsv"
  local step = tonumber(args[2] or "1")
  local index = 0
  for line in io.lines(path) do
    if index % step == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(requests, wrk.format("POST", "/v1/events", {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig,
      }, body))
    end
    index = index + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1 -- wrapped: repeats are answered 200 as replays
  end
  return requests[position]
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
