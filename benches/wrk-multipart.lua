-- wrk script for scripts/bench-server.sh: POSTs a pre-built multipart/form-data body to the
-- URL given to wrk (e.g. http://127.0.0.1:18080/v2/liveness), tallies responses by status
-- (and whether each 503 carries Retry-After), and writes a JSON summary of the run.
--
--   BENCH_TOKEN=<jwt> BENCH_OUT=<prefix> wrk -t1 -c6 -d30s --timeout 120s --latency \
--       -s benches/wrk-multipart.lua http://127.0.0.1:18080/v2/liveness -- SPEC [SPEC...]
--
-- SPEC is one request body: comma-separated multipart file fields, `name=path`, e.g.
-- `image=/m/live/fr_obama.jpg` or `image=/m/live/fr_obama.jpg,video=/m/video_live/x.mp4`.
-- Several SPECs are sent in turn (round robin per wrk thread). Each body is built once, in
-- init(), and the whole HTTP request pre-formatted: no per-request work in Lua beyond the
-- status tally.
--
-- Output (written by done(), in the setup/done Lua state):
--   <prefix>.json  {"requests", "duration_s", "rps", "ok", "ok_rps", "bytes", "statuses":
--                   {"200": n, ...}, "retry_after": {"present", "missing"}, "errors":
--                   {"connect","read","write","timeout","status"}, "latency_ms": {"min",
--                   "mean","stdev","p50","p90","p99","max"}}
--   <prefix>.env   the same as shell assignments (sourced by bench-server.sh)
-- Latency covers every completed response (any status); wrk does not record requests that
-- timed out or were still in flight when the run ended.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local mime = {
   jpg = "image/jpeg", jpeg = "image/jpeg", png = "image/png",
   mp4 = "video/mp4", webm = "video/webm", mov = "video/quicktime",
}

local function read_file(path)
   local f = assert(io.open(path, "rb"), "wrk-multipart.lua: cannot open " .. path)
   local data = f:read("*a")
   f:close()
   return data
end

local function build_body(spec, boundary)
   local parts = {}
   for field in spec:gmatch("[^,]+") do
      local name, path = field:match("^([%w_]+)=(.+)$")
      assert(name, "wrk-multipart.lua: bad field `" .. field .. "` (want name=path)")
      local data = read_file(path)
      assert(not data:find(boundary, 1, true), "wrk-multipart.lua: boundary occurs in " .. path)
      local filename = path:match("([^/]+)$")
      local ext = (filename:match("%.([%w]+)$") or ""):lower()
      table.insert(parts, "--" .. boundary .. "\r\n"
         .. 'Content-Disposition: form-data; name="' .. name .. '"; filename="' .. filename .. '"\r\n'
         .. "Content-Type: " .. (mime[ext] or "application/octet-stream") .. "\r\n\r\n"
         .. data .. "\r\n")
   end
   assert(#parts > 0, "wrk-multipart.lua: empty SPEC")
   return table.concat(parts) .. "--" .. boundary .. "--\r\n"
end

local requests_ = {}
local next_ = 1

function init(args)
   statuses = {}
   retry_after_present = 0
   retry_after_missing = 0
   assert(#args > 0, "wrk-multipart.lua: pass at least one SPEC after --")
   local token = os.getenv("BENCH_TOKEN")
   assert(token and token ~= "", "wrk-multipart.lua: BENCH_TOKEN is not set")
   local boundary = "----liveproof-bench-7f3a9c2e51d84b06"
   local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
   }
   for _, spec in ipairs(args) do
      table.insert(requests_, wrk.format("POST", wrk.path, headers, build_body(spec, boundary)))
   end
end

function request()
   local r = requests_[next_]
   next_ = next_ % #requests_ + 1
   return r
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 503 then
      local has = false
      for k, _ in pairs(headers) do
         if k:lower() == "retry-after" then has = true end
      end
      if has then
         retry_after_present = retry_after_present + 1
      else
         retry_after_missing = retry_after_missing + 1
      end
   end
end

function done(summary, latency, _)
   local prefix = os.getenv("BENCH_OUT")
   assert(prefix and prefix ~= "", "wrk-multipart.lua: BENCH_OUT is not set")
   local total, ra_present, ra_missing = {}, 0, 0
   for _, t in ipairs(threads) do
      for status, n in pairs(t:get("statuses") or {}) do
         total[status] = (total[status] or 0) + n
      end
      ra_present = ra_present + (t:get("retry_after_present") or 0)
      ra_missing = ra_missing + (t:get("retry_after_missing") or 0)
   end
   local codes = {}
   for status, _ in pairs(total) do table.insert(codes, status) end
   table.sort(codes)
   local ok = 0
   local status_json, status_sh = {}, {}
   for _, status in ipairs(codes) do
      if status >= 200 and status < 300 then ok = ok + total[status] end
      table.insert(status_json, string.format('"%d": %d', status, total[status]))
      table.insert(status_sh, string.format("%d:%d", status, total[status]))
   end
   local secs = summary.duration / 1e6
   local function ms(us) return us / 1000 end
   local e = summary.errors
   local v = {
      requests = summary.requests, duration_s = secs,
      rps = summary.requests / secs, ok = ok, ok_rps = ok / secs, bytes = summary.bytes,
      p50 = ms(latency:percentile(50)), p90 = ms(latency:percentile(90)),
      p99 = ms(latency:percentile(99)), min = ms(latency.min), max = ms(latency.max),
      mean = ms(latency.mean), stdev = ms(latency.stdev),
   }
   local json = string.format(
      '{"requests": %d, "duration_s": %.3f, "rps": %.3f, "ok": %d, "ok_rps": %.3f, "bytes": %d, '
      .. '"statuses": {%s}, "retry_after": {"present": %d, "missing": %d}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, '
      .. '"latency_ms": {"min": %.1f, "mean": %.1f, "stdev": %.1f, "p50": %.1f, "p90": %.1f, '
      .. '"p99": %.1f, "max": %.1f}}',
      v.requests, v.duration_s, v.rps, v.ok, v.ok_rps, v.bytes, table.concat(status_json, ", "),
      ra_present, ra_missing, e.connect, e.read, e.write, e.timeout, e.status,
      v.min, v.mean, v.stdev, v.p50, v.p90, v.p99, v.max)
   local f = assert(io.open(prefix .. ".json", "w"))
   f:write(json, "\n")
   f:close()
   f = assert(io.open(prefix .. ".env", "w"))
   f:write(string.format(
      "W_REQUESTS=%d\nW_DURATION=%.3f\nW_RPS=%.2f\nW_OK=%d\nW_OK_RPS=%.2f\nW_STATUSES='%s'\n"
      .. "W_RA_PRESENT=%d\nW_RA_MISSING=%d\nW_ERR_CONNECT=%d\nW_ERR_READ=%d\nW_ERR_WRITE=%d\n"
      .. "W_ERR_TIMEOUT=%d\nW_P50=%.1f\nW_P90=%.1f\nW_P99=%.1f\nW_MAX=%.1f\nW_MEAN=%.1f\n",
      v.requests, v.duration_s, v.rps, v.ok, v.ok_rps, table.concat(status_sh, " "),
      ra_present, ra_missing, e.connect, e.read, e.write, e.timeout,
      v.p50, v.p90, v.p99, v.max, v.mean))
   f:close()
end
