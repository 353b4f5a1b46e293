# frozen_string_literal: true

require "ffi"

module LogstashAsync
  # The C API (include/logstash_async.h), attached with the ffi gem. Nothing
  # here calls back into Ruby: the library has no callbacks, so its worker
  # thread never touches the VM.
  module Native
    extend FFI::Library

    # The library inside a platform gem (bindings/ruby/build-gem.sh puts it there).
    BUNDLED = File.expand_path("native/#{SONAME}", __dir__)

    # Where the library is looked up, first found wins: LOGSTASH_ASYNC_LIB
    # (a path: a development build, a library elsewhere), the copy inside a
    # platform gem, then the dynamic loader's search path by the real SONAME
    # (liblogstash_async.so.0.1 for this ABI; never an unversioned name, which
    # could be any version).
    def self.library_candidates
      env = ENV["LOGSTASH_ASYNC_LIB"]
      return [env] if env && !env.empty?

      File.exist?(BUNDLED) ? [BUNDLED, SONAME] : [SONAME]
    end

    begin
      ffi_lib library_candidates # one name with alternatives: the first that loads
    rescue LoadError => e
      raise LoadError, "logstash_async: cannot load the native library " \
                       "(tried #{library_candidates.join(', ')}; install it with the project's " \
                       "CMake commands, use the platform gem, or set LOGSTASH_ASYNC_LIB " \
                       "to its path): #{e.message}"
    end

    # The path of the library that was loaded.
    def self.library_path
      ffi_libraries.first.name
    end

    # Checked before anything else is attached: a library of another ABI is
    # refused with a message saying which, never half-used.
    attach_function :logstash_async_version, [], :string
    version = logstash_async_version
    unless LogstashAsync.abi_of(version) == ABI_VERSION
      raise LoadError, "logstash_async: #{library_path} is liblogstash_async #{version} " \
                       "(ABI #{LogstashAsync.abi_of(version).inspect}); this gem (#{VERSION}) needs " \
                       "ABI #{ABI_VERSION} (#{SONAME})"
    end

    OK = 0
    QUEUE_FULL = 6
    TIMEOUT = 7
    STORED_NOT_SENT = 8
    FORKED = 11
    BUFFER_TOO_SMALL = 12

    attach_function :logstash_async_create, %i[string pointer size_t], :pointer
    attach_function :logstash_async_emit_json, %i[pointer buffer_in size_t], :int
    attach_function :logstash_async_log, %i[pointer string string string], :int
    attach_function :logstash_async_set_extra, %i[pointer string string], :int
    # With overflow_policy "block" an emit may wait (up to block_timeout_ms)
    # for room in the queue: these variants release the GVL meanwhile. Their
    # arguments are native memory (FFI::MemoryPointer), never Ruby strings,
    # which other threads could change while the GVL is released.
    attach_function :logstash_async_emit_json_blocking, :logstash_async_emit_json,
                    %i[pointer pointer size_t], :int, blocking: true
    attach_function :logstash_async_log_blocking, :logstash_async_log,
                    %i[pointer pointer pointer pointer], :int, blocking: true
    # These wait (up to their timeout): release the GVL so other Ruby
    # threads keep running meanwhile.
    attach_function :logstash_async_flush, %i[pointer uint32], :int, blocking: true
    attach_function :logstash_async_shutdown, %i[pointer uint32], :int, blocking: true
    attach_function :logstash_async_stats_json, %i[pointer pointer size_t pointer], :int
    attach_function :logstash_async_stats_prometheus, %i[pointer pointer size_t pointer], :int
    attach_function :logstash_async_result_str, %i[int], :string

    # How long a handle released by the garbage collector (its Client was never
    # closed) may take to deliver what it holds. Short, because finalizers run
    # on a Ruby thread; the at_exit hook (LogstashAsync.exit_timeout) is where
    # a forgotten client gets a real chance to deliver.
    GC_RELEASE_TIMEOUT_MS = 100

    # The releaser of a handle's FFI::AutoPointer. Built here (self is the
    # module) so the lambda holds no reference to the Client. In a forked
    # child it does nothing: the handle is the parent's.
    def self.releaser(owner_pid)
      lambda do |ptr|
        logstash_async_shutdown(ptr, GC_RELEASE_TIMEOUT_MS) if Process.pid == owner_pid
      end
    end

    # Raises the error class of a non-zero result code.
    def self.check!(code)
      return code if code == OK

      klass = ERRORS_BY_CODE.fetch(code, Error)
      raise klass.new(logstash_async_result_str(code), code: code)
    end

    # NUL-terminated native copies of strings (nil stays NULL), for the
    # blocking variants.
    def self.c_strings(*strings)
      strings.map { |s| s && FFI::MemoryPointer.from_string(s) }
    end
  end

  # The native library's version, e.g. "0.1.0".
  def self.library_version
    Native.logstash_async_version
  end

  # The path of the native library in use.
  def self.library_path
    Native.library_path
  end
end
