# Stub classes for the GitLab stand-in: just enough of GitLab's Rails models for the Ruby the
# collection sends through `gitlab-rails runner`, persisted to $GITLAB_STANDIN_HOME/state.json.
require 'json'
require 'uri'
require 'net/http'

module GitlabStandin
  HOME = ENV.fetch('GITLAB_STANDIN_HOME')
  STATE_FILE = File.join(HOME, 'state.json')
  AI_COLUMNS = %w[ai_gateway_url ai_gateway_timeout_seconds duo_agent_platform_service_url
                  enabled_instance_verbose_ai_logs].freeze

  def self.state
    @state ||= JSON.parse(File.read(STATE_FILE))
  end

  def self.save!
    tmp = "#{STATE_FILE}.#{Process.pid}"
    File.write(tmp, JSON.pretty_generate(state))
    File.rename(tmp, STATE_FILE)
  end

  def self.version
    File.read(File.join(HOME, 'VERSION')).strip
  end

  def self.version_at_least?(major, minor)
    parts = version.split(/[.-]/).first(2).map(&:to_i)
    (parts <=> [major, minor]) >= 0
  end

  # Where GitLab keeps the AI settings: ai_settings up to 19.1, application_settings from 19.2
  # (19.2 to 19.4 keep a stale copy in ai_settings; 19.5 drops the columns there).
  def self.ai_columns_in(table)
    case table
    when 'ai_settings' then version_at_least?(19, 5) ? [] : AI_COLUMNS
    when 'application_settings' then version_at_least?(19, 2) ? AI_COLUMNS : []
    end
  end
end

module ActiveRecord
  class RecordInvalid < StandardError; end
end

class StandinRecord
  def initialize(table, columns)
    @table = table
    @columns = columns
  end

  def attributes
    GitlabStandin.state[@table] ||= {}
  end

  def respond_to_missing?(name, include_private = false)
    @columns.include?(name.to_s.chomp('=')) || super
  end

  def method_missing(name, *args)
    column = name.to_s.chomp('=')
    return super unless @columns.include?(column)
    return attributes[column] = args.first if name.to_s.end_with?('=')

    attributes[column]
  end

  def update!(changes)
    changes.each do |key, value|
      raise NoMethodError, "undefined method `#{key}=' for #{self.class.name}(#{@table})" unless @columns.include?(key.to_s)
    end
    errors = validate(changes.transform_keys(&:to_s))
    raise ActiveRecord::RecordInvalid, "Validation failed: #{errors.join(', ')}" unless errors.empty?

    changes.each { |key, value| attributes[key.to_s] = value }
    GitlabStandin.save!
    true
  end

  def reload
    self
  end

  private

  # The rules GitLab applies to these columns.
  def validate(changes)
    errors = []
    url = changes['ai_gateway_url']
    if url && !url.to_s.empty?
      uri = URI.parse(url) rescue nil
      errors << 'Ai gateway url is not a valid URL' unless uri && %w[http https].include?(uri.scheme) && uri.host
      errors << 'Ai gateway url is too long (maximum is 2048 characters)' if url.length > 2048
      if uri && %w[localhost 127.0.0.1 ::1 0.0.0.0].include?(uri.host) && !GitlabStandin.state['allow_local_requests']
        errors << 'Ai gateway url is blocked: Requests to localhost are not allowed'
      end
    end
    timeout = changes['ai_gateway_timeout_seconds']
    errors << 'Ai gateway timeout seconds must be between 60 and 600' if timeout && !(60..600).cover?(timeout.to_i)
    errors
  end
end

module Ai
  class Setting < StandinRecord
    def self.instance
      new('ai_settings', GitlabStandin.ai_columns_in('ai_settings'))
    end
  end
end

class ApplicationSetting < StandinRecord
  def self.current_without_cache
    new('application_settings', GitlabStandin.ai_columns_in('application_settings'))
  end

  def self.current
    current_without_cache
  end
end

module Gitlab
  module CurrentSettings
    def self.current_application_settings
      ApplicationSetting.current
    end
  end
end

# -- What the troubleshooting checks touch --------------------------------------------------------------------
# state.json: "users": {"name": {"id": 1, "code_suggestions": true}}, "feature_settings": [{"feature":
# "code_completions", "provider": "self_hosted"}], "env": {"AI_GATEWAY_URL": "..."} (legacy variable).
class User
  attr_reader :username, :id

  def initialize(username, attributes)
    @username = username
    @id = attributes['id']
    @attributes = attributes
  end

  def self.find_by_username(username)
    attributes = (GitlabStandin.state['users'] || {})[username]
    attributes && new(username, attributes)
  end

  def can?(ability)
    ability == :access_code_suggestions && @attributes['code_suggestions'] == true
  end

  def allowed_to_use?(feature, service_name: nil)
    feature == :code_suggestions && service_name == :self_hosted_models && @attributes['code_suggestions'] == true
  end
end

class Ability
  def self.allowed?(user, ability)
    user.can?(ability)
  end
end

module Ai
  class FeatureSetting
    def self.exists?(feature:, provider:)
      features = Array(feature).map(&:to_s)
      (GitlabStandin.state['feature_settings'] || []).any? do |setting|
        features.include?(setting['feature']) && setting['provider'] == provider.to_s
      end
    end
  end
end

# GitLab ships HTTParty; the stand-in answers its .get with Net::HTTP.
module HTTParty
  Response = Struct.new(:code, :body)

  def self.get(url, headers: {}, timeout: 10)
    uri = URI.parse(url)
    http = Net::HTTP.new(uri.host, uri.port)
    http.use_ssl = uri.scheme == 'https'
    http.open_timeout = timeout
    http.read_timeout = timeout
    response = http.get(uri.request_uri, headers)
    Response.new(response.code.to_i, response.body)
  end
end

# The environment GitLab's processes would have (e.g. the legacy AI_GATEWAY_URL), from state.json.
(GitlabStandin.state['env'] || {}).each { |name, value| ENV[name] = value }

class User
  def self.find_by_id(id)
    (GitlabStandin.state['users'] || {}).each { |name, attributes| return new(name, attributes) if attributes['id'] == id }
    nil
  end
end

# GitLab's client for the AI gateway: POSTs JSON with a token, answers like HTTParty.
module Gitlab
  module Llm
    module AiGateway
      class Client
        def initialize(user, unit_primitive_name: nil, service_name: nil)
          @user = user
          @unit_primitive = unit_primitive_name || service_name
        end

        def complete(url:, body:)
          uri = URI.parse(url)
          http = Net::HTTP.new(uri.host, uri.port)
          http.use_ssl = uri.scheme == 'https'
          request = Net::HTTP::Post.new(uri.request_uri, 'Content-Type' => 'application/json',
                                                         'Authorization' => 'Bearer standin-user-token')
          request.body = JSON.generate(body)
          response = http.request(request)
          HTTParty::Response.new(response.code.to_i, response.body)
        end
      end
    end
  end
end
