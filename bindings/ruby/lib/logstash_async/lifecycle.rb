# frozen_string_literal: true

module LogstashAsync
  # Seconds the at_exit hook gives each still-open client to deliver its
  # events (nil: do not close clients at exit; the garbage collector's
  # releaser then gives them Native::GC_RELEASE_TIMEOUT_MS).
  @exit_timeout = Client::DEFAULT_TIMEOUT

  class << self
    attr_accessor :exit_timeout
  end

  # Keeps track of live clients (weakly: a forgotten client can still be
  # collected) for the fork hook and the at_exit hook.
  module Lifecycle
    @clients = ObjectSpace::WeakMap.new

    def self.register(client)
      @clients[client] = true
    end

    def self.open_clients
      list = []
      @clients.each_key { |c| list << c unless c.closed? }
      list
    end

    # In a forked child, right after fork (Process._fork hook): the inherited
    # handles are the parent's; make sure nothing here ever releases them.
    def self.after_fork_in_child
      open_clients.each(&:forget_parent_handle)
    end

    # At exit: close every client still open (in parallel: shutdown releases
    # the GVL), so events queued in memory get their chance to be delivered.
    # In a forked child this frees only the child's own handles.
    def self.close_all(timeout)
      return if timeout.nil?

      open_clients.map { |c| Thread.new { c.close(timeout: timeout) rescue nil } }.each(&:join)
    end

    # Process._fork (Ruby >= 3.1) is called by Kernel#fork, Process.fork and
    # IO.popen("-"). Forks that bypass it (Process.daemon, C extensions) are
    # still caught by the pid check on every call.
    module ForkHook
      def _fork
        pid = super
        Lifecycle.after_fork_in_child if pid.zero?
        pid
      end
    end
    Process.singleton_class.prepend(ForkHook) if Process.respond_to?(:_fork)
  end
end

at_exit { LogstashAsync::Lifecycle.close_all(LogstashAsync.exit_timeout) }
