-- wrk script for bench/burst.py: pushes sent on a fixed schedule (open loop), to the nginx in
-- front of our gunicorn (bench/front.py), which stamps each X-Request-Start when it arrives.
--
--   wrk -t2 -c2000 -d75s --timeout 30s -s bench/burst.lua http://127.0.0.1:PORT -- FILE RATE START_MS NTHREADS
--
-- FILE      one request a line: "<path?query>\t<body>" (bench/pushes.py); thread k sends lines
--           k, k+N, k+2N... once each, then its connections stay idle
-- RATE      pushes per second, all threads together
-- START_MS  epoch milliseconds of the first push (the same for every thread)
--
-- Open loop: delay() hands each connection the next push's due time, whether or not earlier
-- pushes were answered, so a slow server does not slow the sender down as long as a connection
-- is free; `late` counts pushes that left over 250 ms after their due time (too few connections:
-- the run is then not open loop, and burst.py says so). done() prints "BURST_RESULT {json}".

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
   ffi.C.gettimeofday(tv, nil)
   return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local paths, bodies = {}, {}
local n, slot, sent_count = 0, 0, 0
local start_ms, gap_ms, host = 0, 0, ""
-- read back by done() through thread:get: plain globals
sent, passive, acked, bad, late, max_late = 0, 0, 0, 0, 0, 0

function init(args)
   local file, rate, nthreads = args[1], tonumber(args[2]), tonumber(args[4])
   start_ms = tonumber(args[3])
   gap_ms = 1000 * nthreads / rate
   host = wrk.headers["Host"]
   local f = assert(io.open(file, "rb"))
   local i = 0
   for line in f:lines() do
      if i % nthreads == tid then
         local tab = string.find(line, "\t", 1, true)
         n = n + 1
         paths[n], bodies[n] = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
      end
      i = i + 1
   end
   f:close()
   start_ms = start_ms + tid * gap_ms / nthreads     -- the threads interleave evenly
end

function delay()
   slot = slot + 1
   if slot > n then
      return 3600 * 1000       -- every push of this thread has left: stay idle
   end
   return math.max(0, start_ms + (slot - 1) * gap_ms - now_ms())
end

function request()
   sent_count = sent_count + 1
   local i = sent_count
   if i > n then
      i = n                    -- never reached: delay() keeps spare connections idle
   end
   local now = now_ms()
   local lateness = now - (start_ms + (i - 1) * gap_ms)
   if lateness > 250 then late = late + 1 end
   if lateness > max_late then max_late = lateness end
   sent = sent_count
   local headers = {["Host"] = host, ["Content-Type"] = "text/xml"}
   return wrk.format("POST", paths[i], headers, bodies[i])
end

function response(status, headers, body)
   if status ~= 200 then
      bad = bad + 1
   elseif body == nil or body == "" or body == "success" then
      acked = acked + 1        -- acknowledged: a finisher answers by customer-service message
   else
      passive = passive + 1
   end
end

function done(summary, latency, requests)
   local totals = {sent = 0, passive = 0, acked = 0, bad = 0, late = 0, max_late = 0}
   for _, t in ipairs(threads) do
      for k, _ in pairs(totals) do
         local v = t:get(k) or 0
         if k == "max_late" then
            totals[k] = math.max(totals[k], v)
         else
            totals[k] = totals[k] + v
         end
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BURST_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"sent": %d, "passive": %d, "acked": %d, "bad": %d, "late_sends": %d, "max_late_ms": %.0f, ' ..
      '"connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
      totals.sent, totals.passive, totals.acked, totals.bad, totals.late, totals.max_late,
      e.connect, e.read, e.write, e.timeout))
end
