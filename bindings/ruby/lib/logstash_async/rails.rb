# frozen_string_literal: true

require "logstash_async"
require "active_support"
require "active_support/logger"
require "active_support/tagged_logging"
require "active_support/core_ext/string/inflections"

module LogstashAsync
  # Rails: a LogstashAsync::Logger wrapped in ActiveSupport::TaggedLogging,
  # whose tags (request ids, subdomains: config.log_tags) go to the event's
  # tags field, the message left clean.
  module Rails
    # The one-line setup, e.g. in config/environments/production.rb:
    #
    #   config.logger = LogstashAsync::Rails.logger({ host: "logstash", port: 5959 }, progname: "shop")
    def self.logger(options, **logger_options)
      ActiveSupport::TaggedLogging.new(LogstashAsync::Logger.new(options, **logger_options))
    end
  end

  if defined?(::Rails::Railtie)
    # Or with settings instead of config.logger (nothing happens unless
    # config.logstash_async.options is set):
    #
    #   config.logstash_async.options = { host: "logstash", port: 5959, database_path: "tmp/logstash.db" }
    #   config.logstash_async.progname = "shop"   # default: the application's name
    class Railtie < ::Rails::Railtie
      config.logstash_async = ActiveSupport::OrderedOptions.new

      initializer "logstash_async.logger", before: :initialize_logger do |app|
        settings = app.config.logstash_async
        if settings.options
          # Shop::Application -> "shop" (the application's module, underscored).
          progname = settings.progname || app.class.name.to_s.split("::").first.to_s.underscore
          app.config.logger = LogstashAsync::Rails.logger(settings.options, progname: progname)
        end
      end
    end
  end
end
