-- wrk script of bench/run.sh: one workload per run, chosen by environment variables.
--   WORKLOAD   list | get | create | me | login | request | new-search
--   TOKEN      access token (every workload but login); for `create`, several separated by
--              commas, taken in turn, so concurrent creates go to as many users' books
--   CONTACT_ID contact read by `get`
--   RUN_ID     makes the emails of `create` unique across wrk runs
--   LOGIN_USER, LOGIN_PASSWORD  credentials posted by `login`
--   REQ_METHOD, REQ_PATH, REQ_AUTH, REQ_BODY, REQ_DEPTH, REQ_ACCEPT_ENCODING  the one request
--              `request` repeats (REQ_AUTH the whole Authorization value, Bearer or Basic;
--              REQ_BODY sent as XML; REQ_DEPTH the WebDAV Depth header and
--              REQ_ACCEPT_ENCODING the Accept-Encoding header, each when set; wrk reads a
--              compressed answer as it comes, without inflating it)
--   NEEDLES    comma-separated names `new-search` asks for with `q`, each time in a mix of
--              upper and lower case not asked before in the run, so the server has no kept
--              matches for it (its answer is that of a first search: every match read)
-- At the end it prints one line, `RESULT key=value ...`, that bench/run.sh parses.

local workload = os.getenv("WORKLOAD") or "list"
local token = os.getenv("TOKEN") or ""
local contact_id = os.getenv("CONTACT_ID") or "1"
local run_id = os.getenv("RUN_ID") or tostring(os.time())

local function urlencode(s)
   return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local thread_count = 0
function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_id", thread_count)
end

local fixed
local counter = 0
local needles = {}
local search_auth
-- Each run starts its case mixes elsewhere (RUN_ID ends in a random number).
local run_offset = tonumber(run_id:match("(%d+)$")) or 0
local tokens = {}
for t in token:gmatch("[^,]+") do
   tokens[#tokens + 1] = t
end

function init(args)
   local auth = { ["Authorization"] = "Bearer " .. token }
   if workload == "list" then
      fixed = wrk.format("GET", "/api/contacts/?limit=20", auth)
   elseif workload == "get" then
      fixed = wrk.format("GET", "/api/contacts/" .. contact_id, auth)
   elseif workload == "me" then
      fixed = wrk.format("GET", "/api/users/me", auth)
   elseif workload == "login" then
      local body = "username=" .. urlencode(os.getenv("LOGIN_USER") or "")
         .. "&password=" .. urlencode(os.getenv("LOGIN_PASSWORD") or "")
      fixed = wrk.format("POST", "/api/auth/login",
         { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
   elseif workload == "request" then
      local headers = { ["Authorization"] = os.getenv("REQ_AUTH") }
      local body = os.getenv("REQ_BODY")
      if body == "" then
         body = nil
      end
      if body then
         headers["Content-Type"] = "application/xml; charset=utf-8"
      end
      local depth = os.getenv("REQ_DEPTH")
      if depth and depth ~= "" then
         headers["Depth"] = depth
      end
      local accept_encoding = os.getenv("REQ_ACCEPT_ENCODING")
      if accept_encoding and accept_encoding ~= "" then
         headers["Accept-Encoding"] = accept_encoding
      end
      fixed = wrk.format(os.getenv("REQ_METHOD") or "GET", os.getenv("REQ_PATH"), headers, body)
   elseif workload == "new-search" then
      for n in (os.getenv("NEEDLES") or ""):gmatch("[^,]+") do
         needles[#needles + 1] = n
      end
      if #needles == 0 then
         error("new-search needs NEEDLES")
      end
      search_auth = auth
   elseif workload ~= "create" then
      error("unknown WORKLOAD " .. workload)
   end
end

-- The next needle of `new-search`: the names in turn (each thread from its own place), the
-- k-th letter in capitals when bit k of the round's number is set. The server keeps searches
-- by their text, case and all, so a mix not asked before is a first search.
local function next_needle()
   counter = counter + 1
   local name = needles[(counter + thread_id * 7919) % #needles + 1]
   local mix = math.floor(counter / #needles) + thread_id * 4099 + run_offset
   local k = 0
   local needle = name:gsub("%a", function(c)
      k = k + 1
      return math.floor(mix / 2 ^ (k - 1)) % 2 == 1 and c:upper() or c:lower()
   end)
   return needle
end

function request()
   if fixed then
      return fixed
   end
   if workload == "new-search" then
      return wrk.format("GET", "/api/contacts/?q=" .. urlencode(next_needle()) .. "&limit=20", search_auth)
   end
   -- create: a contact with an email no other request of any run has used.
   counter = counter + 1
   local body = string.format(
      '{"first_name":"Load","last_name":"Test %d","email":"load-%s-%d-%d@example.org",'
         .. '"phone":"+1 555 010 2030","birthday":"1990-05-17","additional_info":"created by bench/run.sh"}',
      counter, run_id, thread_id, counter)
   -- The other thread starts half-way through the list: the two rarely write one book at once.
   local writer = tokens[(counter + (thread_id - 1) * math.floor(#tokens / 2)) % #tokens + 1]
   return wrk.format("POST", "/api/contacts/", {
      ["Authorization"] = "Bearer " .. writer,
      ["Content-Type"] = "application/json",
   }, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout))
end
