-- wrk script for bench/ratelimit.sh: each request carries x-key, one of KEYS distinct values (default 10,000), so
-- a per-key limit keyed by "header:x-key" sees as many clients as a per-IP limit behind a trusted proxy would.
-- Appended to bench/report.lua's done() by the script.
local keys = tonumber(os.getenv("KEYS") or "10000")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", nil, { ["x-key"] = "k" .. (n * 7919 % keys) })
end
