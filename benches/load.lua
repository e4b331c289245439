-- wrk script of the load run (benches/load.rs writes the data and starts wrk with this script).
--
--   wrk ... -s benches/load.lua <url> -- <data.lua> <threads>
--
-- <data.lua> returns a list of requests, each {method=, path=, headers={...}, body=}, made and
-- signed by benches/load.rs just before the run (Slack's signature carries a timestamp that is
-- good for five minutes; SNS signs each notification whole). Each wrk thread formats its requests
-- once, in `init`, and `request` hands them out in turn, so the Lua side costs a table lookup per
-- request and the server checks every signature in full.
--
-- Without GREENLIGHT_LOAD_ONCE every thread cycles through all requests (starting at an offset of
-- its own) for the whole duration. With GREENLIGHT_LOAD_ONCE=1 (the clicks: every request decides
-- a gate of its own and must be sent exactly once) thread k takes the requests k+1, k+1+threads, …
-- and stops once each of them has its response; run it with one connection per thread, so no
-- request is sent twice.
--
-- `done` prints one line that benches/load.rs reads:
--   greenlight-load requests=… duration_us=… p50_us=… p90_us=… p99_us=… max_us=… mean_us=…
--   status_errors=… connect_errors=… read_errors=… write_errors=… timeouts=… bytes=…

local next_thread_id = 0

function setup(thread)
  thread:set("id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local requests = {}
local position = 1
local answered = 0

function init(args)
  local data = dofile(args[1])
  local threads = tonumber(args[2])
  local id = wrk.thread:get("id")
  local once = os.getenv("GREENLIGHT_LOAD_ONCE") == "1"
  if once then
    for i = id + 1, #data, threads do
      local r = data[i]
      requests[#requests + 1] = wrk.format(r.method, r.path, r.headers, r.body)
    end
  else
    for i = 1, #data do
      local r = data[((i - 1 + id * 7) % #data) + 1]
      requests[#requests + 1] = wrk.format(r.method, r.path, r.headers, r.body)
    end
  end
  if #requests == 0 then
    error("thread " .. id .. " has no request to send")
  end
end

function request()
  local raw = requests[position]
  position = position + 1
  if position > #requests then
    position = 1
  end
  return raw
end

-- Only in once mode: wrk parses responses for Lua only when `response` exists, which would cost
-- the cycling scenarios time on the server's two cores.
if os.getenv("GREENLIGHT_LOAD_ONCE") == "1" then
  function response(status, headers, body)
    answered = answered + 1
    if answered >= #requests then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    "greenlight-load requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d bytes=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
