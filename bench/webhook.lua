-- wrk script for bench/webhook.py: replays pre-generated WeChat pushes, one per request.
--
--   wrk -t2 -c32 -d20s -s bench/webhook.lua http://127.0.0.1:PORT -- FILE EXPECT NTHREADS
--
-- FILE      one request a line: "<path?query>\t<body>" (bodies have no tab or newline)
-- EXPECT    a substring every valid reply body contains (checked on status 200)
-- NTHREADS  wrk's -t: thread k sends lines k, k+N, k+2N... so threads never share a MsgId
-- env BENCH_DELAY_MS  unset/0 for a closed-loop run; >0 paces each connection (wrk waits
--           this long before each request it sends on that connection)
--
-- done() prints one line "BENCH_RESULT {json}" that webhook.py parses; "sent" is the number of
-- requests each thread sent (thread k sent its first sent[k+1] lines, wrapping), from which
-- webhook.py knows which pushes reached the server.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local requests_ = {}
local n, pos = 0, 0
local expect = ""
-- read back by done() through thread:get: plain globals
sent, wrapped, bad, bad_status, bad_body = 0, 0, 0, "", ""
local statuses = {}
local samples = 0

function init(args)
   local file, nthreads = args[1], tonumber(args[3])
   expect = args[2]
   local headers_host = wrk.headers["Host"]
   local f = assert(io.open(file, "rb"))
   local i = 0
   for line in f:lines() do
      if i % nthreads == tid then
         local tab = string.find(line, "\t", 1, true)
         local path, body = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
         local headers = {["Host"] = headers_host, ["Content-Type"] = "text/xml"}
         n = n + 1
         requests_[n] = wrk.format("POST", path, headers, body)
      end
      i = i + 1
   end
   f:close()
   assert(n > 0, "no requests for thread " .. tid .. " in " .. file)
end

function request()
   pos = pos + 1
   if pos > n then
      pos = 1
      wrapped = wrapped + 1   -- MsgIds repeat from here on: webhook.py flags the run
   end
   sent = sent + 1
   return requests_[pos]
end

-- Pacing: wrk decides whether a script has delay() before init() sees the args, so the
-- delay comes from the environment; a closed-loop run defines no delay() and pays nothing.
local pace_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pace_ms > 0 then
   function delay()
      return pace_ms
   end
end

function response(status, headers, body)
   local ok = status == 200 and body ~= nil and string.find(body, expect, 1, true) ~= nil
   if not ok then
      bad = bad + 1
      statuses[status] = (statuses[status] or 0) + 1
      local parts = {}
      for code, count in pairs(statuses) do
         parts[#parts + 1] = code .. ":" .. count
      end
      bad_status = table.concat(parts, ",")
      if samples < 3 then
         samples = samples + 1
         local b = string.sub(body or "", 1, 300)
         bad_body = bad_body .. status .. " " .. b .. "\1"
      end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local total_bad, total_wrapped, all_status, all_bodies, sent_each = 0, 0, {}, {}, {}
   for _, t in ipairs(threads) do
      sent_each[#sent_each + 1] = string.format("%d", t:get("sent") or 0)
      total_bad = total_bad + (t:get("bad") or 0)
      total_wrapped = total_wrapped + (t:get("wrapped") or 0)
      local s = t:get("bad_status") or ""
      if s ~= "" then all_status[#all_status + 1] = s end
      local b = t:get("bad_body") or ""
      if b ~= "" then all_bodies[#all_bodies + 1] = b end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
      '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "bad": %d, "wrapped": %d, ' ..
      '"bad_status": %s, "bad_bodies": %s, "connect": %d, "read": %d, "write": %d, ' ..
      '"status": %d, "timeout": %d, "sent": [%s]}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, total_bad, total_wrapped,
      json_string(table.concat(all_status, ",")), json_string(table.concat(all_bodies, "")),
      e.connect, e.read, e.write, e.status, e.timeout, table.concat(sent_each, ",")))
end
