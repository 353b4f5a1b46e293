# frozen_string_literal: true

module LogstashAsync
  # The Content-Type of the Prometheus text (Client#stats_prometheus).
  PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

  # The counters of every client as one Prometheus exposition: each metric
  # family once (its HELP and TYPE lines), with one sample per client, e.g.
  # in a Rack app: [200, {"content-type" => LogstashAsync::PROMETHEUS_CONTENT_TYPE},
  # [LogstashAsync.prometheus(orders, audit)]].
  def self.prometheus(*clients)
    texts = clients.map { |c| prometheus_families(c.stats_prometheus) }
    return "" if texts.empty?

    # Every client's text has the same families in the same order.
    texts.first.each_index.map do |i|
      headers = texts.first[i].select { |line| line.start_with?("#") }
      samples = texts.flat_map { |families| (families[i] || []).reject { |line| line.start_with?("#") } }
      (headers + samples).map { |line| "#{line}\n" }.join
    end.join
  end

  # An exposition cut into its families (each from its "# HELP" line on).
  def self.prometheus_families(text)
    text.lines(chomp: true).slice_before { |line| line.start_with?("# HELP ") }.to_a
  end
  private_class_method :prometheus_families
end
