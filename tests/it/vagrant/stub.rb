# A stand-in for Vagrant, enough to evaluate the Vagrantfile's Ruby as `vagrant up` would and
# print every setting it makes, as JSON: [["config.vm.network", ["forwarded_port"], {…}], …].
# The tests read what the file asks of Vagrant, not what a provider then does with it (CI has
# no VM provider). Usage: ruby stub.rb Vagrantfile
require "json"

module Vagrant
  module Util
    class Platform
      def self.architecture = ENV.fetch("STUB_HOST_CPU", "x86_64")
    end
  end

  # Records each call under its dotted path; a block is run with the path and its arguments.
  class Recorder
    def initialize(path, log)
      @path = path
      @log = log
    end

    def method_missing(name, *args, **kw, &blk)
      here = @path + [name.to_s.chomp("=")]
      if name.to_s.end_with?("=")
        @log << [here.join("."), args]
        return args.last
      end
      return Recorder.new(here, @log) if args.empty? && kw.empty? && blk.nil?
      @log << [here.join("."), args.map(&:to_s), kw]
      blk&.call(Recorder.new(here + args.map(&:to_s), @log))
      nil
    end

    def respond_to_missing?(*) = true
  end

  def self.configure(_version)
    log = []
    yield Recorder.new(["config"], log)
    puts JSON.generate(log)
  end
end

load ARGV.fetch(0)
