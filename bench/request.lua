-- wrk script: BENCH_METHOD to BENCH_PATH with BENCH_BODY and the bearer BENCH_TOKEN.
-- "{id}" in the path or body takes, in turn, the ids listed in BENCH_IDS_FILE (one a line);
-- each thread starts at its own offset, so ids are not repeated until the list is used up.
-- done() prints one "RESULT" line that bench/run.py parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local headers = {["Content-Type"] = "application/json"}
if os.getenv("BENCH_TOKEN") then
  headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end
if body == "" then body = nil end

local ids = {}
local ids_file = os.getenv("BENCH_IDS_FILE")
if ids_file and ids_file ~= "" then
  for line in io.lines(ids_file) do ids[#ids + 1] = line end
end

local thread_count = 0
function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

local sent = 0
function request()
  local p, b = path, body
  if #ids > 0 then
    local id = ids[((sent * threads + (offset or 0)) % #ids) + 1]
    p = p:gsub("{id}", id)
    if b then b = b:gsub("{id}", id) end
  end
  sent = sent + 1
  return wrk.format(method, p, headers, b)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  ))
end
