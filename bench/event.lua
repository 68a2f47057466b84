-- wrk script for POST /v1/metrics/{key}/event and the baseline view.
--
--   wrk -t2 -c16 -d20s -s bench/event.lua URL -- API_KEY RUN_TAG NEW_PERCENT POOL_SIZE
--
-- Each request is {"user": {"id": ...}, "value": 1}. NEW_PERCENT of requests come from a
-- user never seen before ("new-<RUN_TAG>-<thread>-<n>"), the rest from a fixed pool of
-- POOL_SIZE repeat users ("repeat-<i>"), picked at random (seeded per thread, so a run
-- is reproducible). RUN_TAG keeps the warm-up's new users apart from the measured run's.
-- Its `done` (bench/wrk_report.lua) prints one JSON line for bench/report.py.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  api_key = args[1] or ""
  run_tag = args[2] or "run"
  new_percent = tonumber(args[3] or "25")
  pool_size = tonumber(args[4] or "1000")
  math.randomseed(1000 + tid)
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-KEY"] = api_key
end

function request()
  sent = sent + 1
  local user
  if math.random(100) <= new_percent then
    user = string.format("new-%s-%d-%d", run_tag, tid, sent)
  else
    user = string.format("repeat-%d", math.random(pool_size))
  end
  local body = string.format('{"user": {"id": "%s"}, "value": 1}', user)
  return wrk.format(nil, nil, nil, body)
end

dofile("bench/wrk_report.lua")
