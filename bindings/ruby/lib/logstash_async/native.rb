# frozen_string_literal: true

require "ffi"

module LogstashAsync
  # The C API (include/logstash_async.h), attached with the ffi gem. Nothing
  # here calls back into Ruby: the library has no callbacks, so its worker
  # thread never touches the VM.
  module Native
    extend FFI::Library

    # Where the shared library is looked up: LOGSTASH_ASYNC_LIB (a path) wins;
    # otherwise the soname'd file of this ABI, then the unversioned name (a
    # development build), both through the dynamic loader's search path.
    def self.library_candidates
      env = ENV["LOGSTASH_ASYNC_LIB"]
      return [env] if env && !env.empty?

      ["liblogstash_async.so.#{ABI_VERSION}", "liblogstash_async.so"]
    end

    begin
      ffi_lib library_candidates # one name with alternatives: the first that loads
    rescue LoadError => e
      raise LoadError, "logstash_async: cannot load the native library " \
                       "(tried #{library_candidates.join(', ')}; set LOGSTASH_ASYNC_LIB " \
                       "to its path): #{e.message}"
    end

    OK = 0
    TIMEOUT = 7
    STORED_NOT_SENT = 8
    FORKED = 11
    BUFFER_TOO_SMALL = 12

    attach_function :logstash_async_create, %i[string pointer size_t], :pointer
    attach_function :logstash_async_emit_json, %i[pointer buffer_in size_t], :int
    attach_function :logstash_async_log, %i[pointer string string string], :int
    attach_function :logstash_async_set_extra, %i[pointer string string], :int
    # These two wait (up to their timeout): release the GVL so other Ruby
    # threads keep running meanwhile.
    attach_function :logstash_async_flush, %i[pointer uint32], :int, blocking: true
    attach_function :logstash_async_shutdown, %i[pointer uint32], :int, blocking: true
    attach_function :logstash_async_stats_json, %i[pointer pointer size_t pointer], :int
    attach_function :logstash_async_result_str, %i[int], :string
    attach_function :logstash_async_version, [], :string

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

    # The library's version must have this gem's ABI (major version).
    def self.check_version!
      major = Integer(logstash_async_version.split(".").first, exception: false)
      return if major == ABI_VERSION

      raise LoadError, "logstash_async: the native library is version " \
                       "#{logstash_async_version}, this gem needs ABI #{ABI_VERSION}.x"
    end
    check_version!
  end

  # The native library's version, e.g. "0.1.0".
  def self.library_version
    Native.logstash_async_version
  end
end
