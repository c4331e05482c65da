-- wrk script: one canonical event per request, each with a fresh id (no dedup hits).
-- RATE_PER_CONN (env, requests/s per connection, 0 = as fast as possible) paces each connection
-- with wrk's delay() hook, for the fixed-rate latency run.
counter = 0
local nthreads = 0
local threads = {}
local pace = tonumber(os.getenv("RATE_PER_CONN") or "0")

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
end

function request()
  counter = counter + 1
  local body = string.format('{"id":"bench-%s-%d-%d","type":"adt.admit","tenant":"bench","facility":"F1","unit":"4W","patient":"P%d","encounter":"E%d","occurred_at":"2026-11-21T10:00:00Z","attributes":{"patient_class":"inpatient"}}',
    os.getenv("BENCH_RUN"), tid, counter, counter % 997, counter % 5003)
  return wrk.format("POST", "/v1/events", nil, body)
end

if pace > 0 then
  function delay()
    return 1000 / pace
  end
end
