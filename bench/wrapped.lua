-- wrk script for GET /v1/users/{id}/wrapped and the baseline GET /documents/<id>.
--
--   wrk -t2 -c16 -d20s -s bench/wrapped.lua URL -- API_KEY PATH_FORMAT FIRST COUNT MODE [START]
--
-- PATH_FORMAT holds one %d (for example "/v1/users/user-%05d/wrapped?year=2025" or
-- "/documents/%d"), filled with a number from FIRST to FIRST + COUNT - 1: at random
-- (MODE "random", seeded per thread) or each number once (MODE "once", from the START-th
-- on: the two threads take alternate numbers, so no request repeats another; a run that
-- uses them all up wraps around). Its `done` (bench/wrk_report.lua) prints one JSON line for bench/report.py.

local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local api_key = args[1] or ""
  path_format = args[2]
  first = tonumber(args[3] or "1")
  count = tonumber(args[4] or "1")
  mode = args[5] or "random"
  start = tonumber(args[6] or "0")
  math.randomseed(2000 + tid)
  sent = 0
  wrk.method = "GET"
  wrk.headers["X-API-KEY"] = api_key
end

function request()
  local n
  if mode == "once" then
    n = first + (start + (tid - 1) + 2 * sent) % count
  else
    n = first + math.random(count) - 1
  end
  sent = sent + 1
  return wrk.format(nil, string.format(path_format, n))
end

dofile("bench/wrk_report.lua")
