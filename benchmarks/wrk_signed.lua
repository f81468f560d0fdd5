-- Replay pre-signed CancelTask requests, each one once.
--
--   wrk -tT -c32 -d5s -s benchmarks/wrk_signed.lua http://127.0.0.1:PORT -- FILE [OFFSET [T
--       [NAME VALUE]...]]
--
-- FILE has one request target per line ("/?AccessKeyId=...&Signature=..."), V1-signed
-- with a unique SignatureNonce. Thread k of T sends lines OFFSET+k, OFFSET+k+T, ... as
-- POST with an empty body, so no two requests share a nonce. A thread that runs out of
-- lines starts again from the top (the emulator then answers SignatureNonceUsed, which
-- wrk counts as non-2xx) and the wraps are reported. NAME VALUE pairs replace the default
-- headers (x-acs-action and x-acs-version, as the SDKs send them in V1 mode). done() prints one line for the
-- harness:  RESULT requests=.. duration_us=.. non2xx=.. connect=.. read=.. write=..
--           timeout=.. wraps=.. p50_us=.. p99_us=..

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   path = args[1]
   offset = tonumber(args[2] or "0")
   -- The thread count (wrk -t): setup() runs in another Lua state, so it comes as args[3].
   stride = tonumber(args[3] or "1")
   wraps = 0
   file = assert(io.open(path, "r"))
   skip(offset + id)
   headers = {
      ["x-acs-action"] = "CancelTask",
      ["x-acs-version"] = "2014-05-26",
   }
   if args[4] then
      headers = {}
      local index = 4
      while args[index] do
         headers[args[index]] = args[index + 1]
         index = index + 2
      end
   end
end

-- Advance past n lines, wrapping at the end of the file.
function skip(n)
   for _ = 1, n do
      if not file:read("*l") then
         file:seek("set", 0)
         file:read("*l")
      end
   end
end

function request()
   local target = file:read("*l")
   if not target then
      wraps = wraps + 1
      file:seek("set", 0)
      target = file:read("*l")
   end
   if stride > 1 then
      skip(stride - 1)
   end
   return wrk.format("POST", target, headers, "")
end

function done(summary, latency, requests)
   local total_wraps = 0
   for _, thread in ipairs(threads) do
      total_wraps = total_wraps + (thread:get("wraps") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d"
         .. " wraps=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      total_wraps, latency:percentile(50), latency:percentile(99)))
end
