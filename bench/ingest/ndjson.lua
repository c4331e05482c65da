-- wrk script: NDJSON batches of BATCH events (env, default 100), fresh ids every time.
counter = 0
local nthreads = 0
local batch = tonumber(os.getenv("BATCH") or "100")

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end

function init(args)
  wrk.headers["Content-Type"] = "application/x-ndjson"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
end

function request()
  local lines = {}
  for i = 1, batch do
    counter = counter + 1
    lines[i] = string.format('{"id":"nd-%s-%d-%d","type":"order.placed","tenant":"bench","facility":"F1","patient":"P%d","encounter":"E%d","occurred_at":"2026-11-21T10:00:00Z"}',
      os.getenv("BENCH_RUN"), tid, counter, counter % 997, counter % 5003)
  end
  return wrk.format("POST", "/v1/events", nil, table.concat(lines, "\n") .. "\n")
end
