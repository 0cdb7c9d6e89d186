# Stub classes for the GitLab stand-in: the parts of GitLab's Rails models that the collection's Ruby (sent
# through `gitlab-rails runner`) and GitLab's own verify task touch, persisted to $GITLAB_STANDIN_HOME/state.json.
#
# Built from GitLab's source (github:flyisland/gitlab-ee, snapshot 18.9.0-pre) and shaped by the version the
# instance claims ($GITLAB_STANDIN_HOME/VERSION): signatures take the same keyword arguments as the real methods,
# so a wrong keyword raises ArgumentError as Ruby does; a class or attribute the version lacks is missing here too
# (NameError / NoMethodError). Each stub names the file it mirrors.
#
# state.json: "ai_settings" / "application_settings" (columns), "users" {name: {id, code_suggestions, admin}},
# "feature_settings" [{feature, provider, self_hosted_model}], "self_hosted_models" [{name, model, endpoint,
# release_state, provider, api_token}], "license" {plan, features: [...]}, "add_ons" [...], "amazon_q_connected",
# "unit_primitives" [...], "env" {NAME: value} (the environment of GitLab's processes).
require 'json'
require 'uri'
require 'net/http'
require 'openssl'
require 'socket'
require 'time'

module GitlabStandin
  HOME = ENV.fetch('GITLAB_STANDIN_HOME')
  STATE_FILE = File.join(HOME, 'state.json')
  # Release that added each AI setting (db/migrate, ee/app/models/ai/setting.rb, doc/administration/
  # gitlab_duo_self_hosted/logging.md: "turn logging on and off through the UI added in GitLab 17.9").
  COLUMN_SINCE = {
    'ai_gateway_url' => [17, 6],                       # AddAiSettingsTable
    'enabled_instance_verbose_ai_logs' => [17, 9],
    'duo_agent_platform_service_url' => [18, 4],       # 20250818083453_add_duo_agent_platform_service_url_to_ai_settings
    'ai_gateway_timeout_seconds' => [18, 6]            # 20251104183810_add_ai_gateway_timeout_seconds_to_ai_settings
  }.freeze
  # Column defaults per table. ai_settings: the timeout's 60 (18.6's migration). application_settings: what 19.2's
  # AddAiInfrastructureColumnsToApplicationSettings (db/migrate, milestone '19.2') adds - ai_gateway_url and
  # duo_agent_platform_service_url NULL, ai_gateway_timeout_seconds 60, enabled_instance_verbose_ai_logs false (NOT
  # NULL) - and nothing copies the ai_settings values over. So what 19.2 really clears, read where 19.2 reads it: both
  # URLs (nil), the timeout (back to 60) and verbose AI logs (false); the old values stay behind in ai_settings until
  # 19.3's RestoreAiInfrastructureSettingsFromAiSettings (migrate! below) copies back those still at these defaults.
  TABLE_DEFAULTS = {
    'ai_settings' => { 'ai_gateway_timeout_seconds' => 60 },
    'application_settings' => { 'ai_gateway_timeout_seconds' => 60, 'enabled_instance_verbose_ai_logs' => false }
  }.freeze
  DEFAULTS = TABLE_DEFAULTS['application_settings']
  # gitlab-cloud-connector's self-hosted unit primitives (config/unit_primitives in the gem).
  UNIT_PRIMITIVES = %w[code_suggestions duo_chat self_hosted_models self_hosted_duo_agent_platform].freeze

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

  def self.columns
    COLUMN_SINCE.select { |_, since| version_at_least?(*since) }.keys
  end

  # Where GitLab keeps the AI settings: ai_settings from 17.6 up to 19.1, application_settings from 19.2 (19.2 to
  # 19.4 keep a stale copy in ai_settings; 19.5 drops the columns there and Ai::Setting becomes per organization).
  def self.ai_columns_in(table)
    case table
    when 'ai_settings' then version_at_least?(19, 5) ? [] : columns
    when 'application_settings' then version_at_least?(19, 2) ? columns : []
    end
  end

  # 19.3's RestoreAiInfrastructureSettingsFromAiSettings: copies each value from ai_settings to the application
  # settings where those are still at their defaults (the URLs 19.2 lost); runs once, as a migration does.
  def self.migrate!
    return unless version_at_least?(19, 3)

    done = (state['migrations'] ||= [])
    return if done.include?('restore_ai_infrastructure_settings')

    from = state['ai_settings'] || {}
    to = (state['application_settings'] ||= {})
    columns.each do |column|
      next if from[column].nil? || !(to[column].nil? || to[column] == DEFAULTS[column])

      to[column] = from[column]
    end
    done << 'restore_ai_infrastructure_settings'
    save!
  end
end

module ActiveRecord
  class ActiveRecordError < StandardError; end
  class RecordInvalid < ActiveRecordError; end
  class RecordNotFound < ActiveRecordError; end
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

    attributes.fetch(column, GitlabStandin::TABLE_DEFAULTS.fetch(@table, {})[column])
  end

  # ActiveRecord's update!(attributes): an unknown attribute raises ActiveModel::UnknownAttributeError.
  def update!(changes)
    changes.each_key do |key|
      raise ActiveModel::UnknownAttributeError, "unknown attribute '#{key}' for #{self.class.name}." unless @columns.include?(key.to_s)
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

  # ee/app/models/ai/setting.rb: http/https, at most 2048 characters, Gitlab::HTTP_V2::UrlBlocker (loopback
  # refused unless local requests are allowed; private addresses allowed), timeout 60-600.
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
    errors << 'Ai gateway timeout seconds must be greater than or equal to 60' if timeout && timeout.to_i < 60
    errors << 'Ai gateway timeout seconds must be less than or equal to 600' if timeout && timeout.to_i > 600
    errors
  end
end

module ActiveModel
  class UnknownAttributeError < NoMethodError; end
end

# ee/app/models/ai/setting.rb (table ai_settings, from 17.6; a singleton until 19.5).
if GitlabStandin.version_at_least?(17, 6)
  module Ai
    class Setting < StandinRecord
      if GitlabStandin.version_at_least?(19, 5)
        # 19.5: per organization (Ai::Setting.for_organization); the singleton accessor is gone.
        def self.for_organization(_organization)
          new('ai_settings', [])
        end
      else
        def self.instance
          new('ai_settings', GitlabStandin.ai_columns_in('ai_settings'))
        end
      end
    end
  end
end

# app/models/application_setting.rb (+ ee/app/models/ee/application_setting.rb)
class ApplicationSetting < StandinRecord
  def self.current_without_cache
    new('application_settings', GitlabStandin.ai_columns_in('application_settings'))
  end

  def self.current
    current_without_cache
  end

  # ee/app/models/ee/application_setting.rb: the REST name of the verbose-logs switch.
  def enabled_expanded_logging
    record = GitlabStandin.version_at_least?(19, 2) ? self : Ai::Setting.instance
    record.enabled_instance_verbose_ai_logs
  end
end

module Gitlab
  VERSION = GitlabStandin.version.sub(/-ee\z/, '')

  def self.revision
    'standin'
  end

  def self.config
    Struct.new(:gitlab).new(Struct.new(:url).new(GitlabStandin.state['gitlab_url'] || 'http://gitlab.duo-lab.test'))
  end

  module CurrentSettings
    def self.current_application_settings
      ApplicationSetting.current
    end

    def self.enabled_expanded_logging
      current_application_settings.enabled_expanded_logging
    end
  end

  # ee/lib/gitlab/ai_gateway.rb: self_hosted_url reads the instance setting.
  module AiGateway
    ForbiddenError = Class.new(StandardError)

    def self.self_hosted_url
      record = GitlabStandin.version_at_least?(19, 2) ? ApplicationSetting.current : Ai::Setting.instance
      record.ai_gateway_url
    end
  end

  module Json
    def self.parse(text)
      JSON.parse(text)
    end

    def self.pretty_generate(object)
      JSON.pretty_generate(object)
    end
  end

  # gems/gitlab-http: Gitlab::HTTP.get(url, options) with HTTParty-style options; HTTP_ERRORS from
  # gems/gitlab-http/lib/gitlab/http_v2/exceptions.rb.
  module HTTP
    BlockedUrlError = Class.new(StandardError)
    HTTP_ERRORS = [Net::OpenTimeout, Net::ReadTimeout, Net::WriteTimeout, EOFError, SocketError,
                   OpenSSL::SSL::SSLError, OpenSSL::OpenSSLError, Errno::ECONNRESET, Errno::ECONNREFUSED,
                   Errno::EHOSTUNREACH, Errno::ENETUNREACH, BlockedUrlError, Net::HTTPBadResponse].freeze
    Response = Struct.new(:code, :body, :headers) do
      def success?
        (200..299).cover?(code)
      end
    end

    def self.get(url, options = {})
      request(Net::HTTP::Get, url, options)
    end

    def self.post(url, options = {})
      request(Net::HTTP::Post, url, options)
    end

    def self.request(klass, url, options)
      uri = URI.parse(url)
      http = Net::HTTP.new(uri.host, uri.port)
      http.use_ssl = uri.scheme == 'https'
      http.open_timeout = options[:timeout] || 10
      http.read_timeout = options[:timeout] || 10
      request = klass.new(uri.request_uri, options[:headers] || {})
      request.body = options[:body] if options[:body]
      response = http.request(request)
      Response.new(response.code.to_i, response.body.to_s, response.each_header.to_h)
    end
  end
end

# GitLab ships HTTParty too (Gitlab::HTTP is built on it).
module HTTParty
  def self.get(url, headers: {}, timeout: 10)
    Gitlab::HTTP.get(url, headers: headers, timeout: timeout)
  end
end

module Rails
  def self.env
    'production'
  end
end

# ee/app/models/license.rb: feature_available?(feature), current (plan, expires_at).
class License
  def self.data
    GitlabStandin.state['license'] || { 'plan' => 'ultimate', 'features' => %w[code_suggestions self_hosted_models ai_features] }
  end

  def self.feature_available?(feature)
    Array(data['features']).include?(feature.to_s)
  end

  def self.ai_features_available?
    feature_available?(:ai_features)
  end

  def self.current
    Struct.new(:plan, :expires_at).new(data['plan'], Time.utc(2027, 1, 1))
  end
end

# app/models/user.rb + ee/app/models/concerns/ai/user_authorizable.rb.
class User
  attr_reader :username, :id

  def initialize(username, attributes)
    @username = username
    @id = attributes['id']
    @attributes = attributes
  end

  def self.users
    GitlabStandin.state['users'] || {}
  end

  def self.find_by_username(username)
    attributes = users[username]
    attributes && new(username, attributes)
  end

  def self.find_by_username!(username)
    find_by_username(username) || raise(ActiveRecord::RecordNotFound, "Couldn't find User")
  end

  def self.find_by_id(id)
    users.each { |name, attributes| return new(name, attributes) if attributes['id'] == id }
    nil
  end

  def admin?
    @attributes['admin'] == true
  end

  def can?(ability, _subject = :global)
    Ability.allowed?(self, ability)
  end

  def code_suggestions_seat?
    @attributes['code_suggestions'] == true
  end

  # The signature of the instance's version: `service_name:` in older releases, `unit_primitive_name:` (and
  # `root_namespace:`) in current ones (ee/app/models/concerns/ai/user_authorizable.rb in 18.9:
  # allowed_to_use?(ai_feature, unit_primitive_name: nil, licensed_feature: :ai_features, root_namespace: nil)).
  # The stand-in switches at 18.0; callers must not depend on where the switch is.
  if GitlabStandin.version_at_least?(18, 0)
    def allowed_to_use?(ai_feature, unit_primitive_name: nil, licensed_feature: :ai_features, root_namespace: nil)
      standin_allowed?(ai_feature, unit_primitive_name)
    end
  else
    def allowed_to_use?(ai_feature, service_name: nil, licensed_feature: :ai_features)
      standin_allowed?(ai_feature, service_name)
    end
  end

  private

  def standin_allowed?(ai_feature, unit_primitive)
    name = (unit_primitive || ai_feature).to_s
    # user_authorizable.rb: denied_response unless the unit primitive exists; a boolean, as allowed? returns.
    !!(ai_feature.to_s == 'code_suggestions' && code_suggestions_seat? &&
       Gitlab::CloudConnector::DataModel::UnitPrimitive.find_by_name(name) &&
       License.feature_available?(:code_suggestions))
  end
end

# app/models/ability.rb + ee/app/policies/ee/global_policy.rb.
class Ability
  def self.allowed?(user, ability, _subject = :global)
    case ability
    when :access_code_suggestions
      user.code_suggestions_seat? && License.feature_available?(:code_suggestions)
    when :manage_self_hosted_models_settings
      # rule { admin } enables it; ~self_hosted_models_allowed (Duo Enterprise or DAP self-hosted add-on, not
      # connected to Amazon Q, not GitLab.com) and ~instance_model_configuration_allowed (license feature
      # self_hosted_models) prevent it.
      add_ons = GitlabStandin.state['add_ons'] || %w[duo_enterprise]
      user.admin? && License.feature_available?(:self_hosted_models) &&
        (add_ons & %w[duo_enterprise duo_agent_platform_self_hosted]).any? && !GitlabStandin.state['amazon_q_connected']
    else
      false
    end
  end
end

module Gitlab
  module CloudConnector
    module DataModel
      # gitlab-cloud-connector gem: the unit primitives this GitLab knows.
      class UnitPrimitive
        attr_reader :name

        def initialize(name)
          @name = name
        end

        def self.find_by_name(name)
          known = GitlabStandin.state['unit_primitives'] || GitlabStandin::UNIT_PRIMITIVES
          known.include?(name.to_s) ? new(name.to_sym) : nil
        end
      end
    end
  end
end

module Ai
  # ee/app/models/ai/self_hosted_model.rb (name, model, endpoint, identifier, release_state, provider, api_token).
  class SelfHostedModel
    FIELDS = %i[id name model endpoint identifier release_state provider api_token].freeze
    attr_reader(*FIELDS)

    def initialize(attributes)
      FIELDS.each { |field| instance_variable_set("@#{field}", attributes[field.to_s]) }
      @release_state ||= 'GA'
      @provider ||= 'openai'
    end

    def ga?
      release_state == 'GA'
    end

    def self.all
      (GitlabStandin.state['self_hosted_models'] || []).each_with_index.map { |model, index| new({ 'id' => index + 1 }.merge(model)) }
    end

    def self.includes(*)
      all
    end

    def self.any?
      all.any?
    end

    def self.find_by_name(name)
      all.find { |model| model.name == name }
    end
  end

  # ee/app/models/ai/feature_setting.rb (feature, provider, self_hosted_model).
  class FeatureSetting
    attr_reader :feature, :provider

    def initialize(attributes)
      @feature = attributes['feature']
      @provider = attributes['provider']
      @model_name = attributes['self_hosted_model']
    end

    def self_hosted_model
      @model_name && Ai::SelfHostedModel.find_by_name(@model_name)
    end

    def self_hosted?
      provider.to_s == 'self_hosted'
    end

    def self.rows
      (GitlabStandin.state['feature_settings'] || []).map { |row| new(row) }
    end

    # ActiveRecord's exists?(conditions): a Hash of column => value(s).
    def self.exists?(conditions = :none)
      return rows.any? if conditions == :none

      rows.any? do |row|
        conditions.all? { |column, value| Array(value).map(&:to_s).include?(row.public_send(column).to_s) }
      end
    end

    # all.includes(:self_hosted_model).find_each { ... }
    def self.all
      Relation.new(rows)
    end

    Relation = Struct.new(:rows) do
      def includes(*)
        self
      end

      def find_each(&block)
        rows.each(&block)
      end
    end
  end
end

# ee/lib/gitlab/llm/ai_gateway/client.rb (18.9: initialize(user, unit_primitive_name:, tracking_context: {});
# older releases: service_name:). complete(url:, body:, timeout: nil) POSTs JSON with the user's token.
module Gitlab
  module Llm
    module AiGateway
      class Client
        ConnectionError = Class.new(StandardError)

        if GitlabStandin.version_at_least?(18, 0)
          def initialize(user, unit_primitive_name:, tracking_context: {})
            @user = user
            @unit_primitive = unit_primitive_name
          end
        else
          def initialize(user, service_name:, tracking_context: {})
            @user = user
            @unit_primitive = service_name
          end
        end

        def complete(url:, body:, timeout: nil)
          Gitlab::HTTP.post(url, headers: { 'Content-Type' => 'application/json',
                                            'Authorization' => 'Bearer standin-user-token' },
                                 body: JSON.generate(body), timeout: timeout || 60)
        end
      end
    end
  end
end

# The environment GitLab's processes would have (e.g. the legacy AI_GATEWAY_URL), from state.json.
(GitlabStandin.state['env'] || {}).each { |name, value| ENV[name] = value }
GitlabStandin.migrate!

# The Duo Agent Platform checks of newer verify tasks (not in the 18.9.0-pre snapshot; read in the stored later
# snapshot of github:flyisland/gitlab-ee, ee/lib/gitlab/duo/administration/agent_platform_websocket_check.rb and
# transport_connectivity_check.rb, whose verify task already reads the 19.2 application settings). The first
# release that has them is not confirmed from source; the stand-in offers them from 18.10.
if GitlabStandin.version_at_least?(18, 10)
  module Gitlab
    module Duo
      module Administration
        # AgentPlatformWebsocketCheck.new(user).execute: a WebSocket upgrade request (GET with Upgrade: websocket,
        # Connection: Upgrade, Sec-WebSocket-Version 13, Origin and a Bearer token) to the instance's own external
        # URL + api/v4/ai/duo_workflows/ws; 101 -> :ok, 401/403 -> :rejected, any other status -> :not_upgraded,
        # an exception -> :error. HTTPS is tried verified first, then unverified (tls_verified false).
        class AgentPlatformWebsocketCheck
          WEBSOCKET_PATH = 'api/v4/ai/duo_workflows/ws'
          Result = Struct.new(:status, :http_status, :headers, :error, :url, :response_time_ms, :tls_verified,
                              keyword_init: true) do
            def ok?
              status == :ok
            end
          end

          def initialize(user)
            @user = user
          end

          def execute
            started = Time.now
            url = "#{Gitlab.config.gitlab.url.chomp('/')}/#{WEBSOCKET_PATH}"
            uri = URI.parse(url)
            code, headers = upgrade(uri)
            Result.new(status: { 101 => :ok, 401 => :rejected, 403 => :rejected }.fetch(code, :not_upgraded),
                       http_status: code, headers: headers, url: url, tls_verified: @tls_verified,
                       response_time_ms: ((Time.now - started) * 1000).round(2))
          rescue StandardError => e
            Result.new(status: :error, error: e, url: url, response_time_ms: ((Time.now - started) * 1000).round(2))
          end

          private

          def upgrade(uri)
            socket = connect(uri)
            # The real check's token comes from Ai::DuoWorkflows::WorkflowContextGenerationService
            # (generate_oauth_token); the stand-in's API accepts this one.
            socket.write(["GET #{uri.request_uri} HTTP/1.1", "Host: #{uri.host}:#{uri.port}", 'Upgrade: websocket',
                          'Connection: Upgrade', "Sec-WebSocket-Key: #{[Random.bytes(16)].pack('m0')}",
                          'Sec-WebSocket-Version: 13', "Origin: #{Gitlab.config.gitlab.url}",
                          'Authorization: Bearer standin-duo-workflow-oauth-token', '', ''].join("\r\n"))
            raise Timeout::Error, 'timed out waiting for a handshake response' unless socket.wait_readable(15)

            code = socket.gets.to_s[%r{\AHTTP/\d(?:\.\d)? (\d{3})}, 1].to_i
            headers = {}
            while (line = socket.gets) && !["\r\n", "\n"].include?(line)
              name, _, value = line.chomp.partition(': ')
              headers[name] = value
            end
            [code, headers]
          ensure
            socket&.close
          end

          def connect(uri)
            return Socket.tcp(uri.host, uri.port, connect_timeout: 15) unless uri.scheme == 'https'

            begin
              socket = tls(uri, OpenSSL::SSL::VERIFY_PEER)
              @tls_verified = true
            rescue OpenSSL::SSL::SSLError
              @tls_verified = false
              socket = tls(uri, OpenSSL::SSL::VERIFY_NONE)
            end
            socket
          end

          def tls(uri, verify_mode)
            context = OpenSSL::SSL::SSLContext.new
            context.verify_mode = verify_mode
            ssl = OpenSSL::SSL::SSLSocket.new(Socket.tcp(uri.host, uri.port, connect_timeout: 15), context)
            ssl.hostname = uri.host
            ssl.sync_close = true
            ssl.connect
            ssl
          end
        end
      end
    end
  end
end
