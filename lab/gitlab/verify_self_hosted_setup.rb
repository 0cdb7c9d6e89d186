# What `gitlab-rake gitlab:duo:verify_self_hosted_setup[user]` runs: GitLab's
# Gitlab::Duo::Administration::VerifySelfHostedSetup (ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb,
# task in ee/lib/tasks/gitlab/duo.rake; read at 18.9.0-pre), against the stand-in's stubs. Same steps, same
# lines, same marks (mostly at the END of a line), same raises: a fatal problem (unknown user, no URL, no license
# access, gateway unreachable) raises, and lab/gitlab/gitlab-rake prints it as rake does (`rake aborted!`, the
# message and a backtrace on stderr, exit 1) with no summary.
#
# From 18.10 the stand-in adds the connectivity steps newer releases print in the same style (TCP, TLS and proxy
# to the gateway, the Duo Agent Platform (Workflow) service, the WebSocket upgrade). They are NOT in the 18.9
# source this file was read from: their wording is the stand-in's, only their shape (step heading, `>> ... ✔/✗`
# lines, `   ... ⚠`) follows the real task.
class VerifySelfHostedSetupStandin
  attr_reader :ai_gateway_url, :diagnostics

  def initialize(username)
    @user = User.find_by_username!(username || 'root')
    @ai_gateway_url = ::Gitlab::AiGateway.self_hosted_url
    @diagnostics = {}
  end

  def execute
    puts <<~MSG
      ═══════════════════════════════════════════════════════════════
      GitLab Duo Self-Hosted Setup Verification
      ═══════════════════════════════════════════════════════════════
      This task will help you debug issues with your self-hosted Duo installation.
      For additional logs, enable 'enabled_instance_verbose_ai_logs' instance setting via
      Rails console:
      ```
      ::Ai::Setting.instance.update!(enabled_instance_verbose_ai_logs: true)
      ```

    MSG

    collect_system_info
    verify_ai_gateway_url!
    verify_license_access!
    verify_aigateway_access!
    verify_connectivity! if GitlabStandin.version_at_least?(18, 10)
    verify_model_endpoints!
    verify_feature_settings!
    test_request_flow!

    puts "\n#{'═' * 63}"
    puts "DIAGNOSTIC SUMMARY (sanitize before sharing with support)"
    puts "═" * 63
    puts ::Gitlab::Json.pretty_generate(@diagnostics)
    puts ""
    puts "NOTE: Review the above output and remove any sensitive information"
    puts "before sharing with GitLab support."
  end

  private

  def collect_system_info
    puts "Collecting system information..."
    @diagnostics[:system] = { gitlab_version: Gitlab::VERSION, gitlab_revision: Gitlab.revision,
                              rails_env: Rails.env, timestamp: Time.now.utc.iso8601, user: @user.username,
                              user_id: @user.id, instance_url: Gitlab.config.gitlab.url }
    puts ">> System info collected ✔"
    puts ""
  end

  def verify_ai_gateway_url!
    puts "Verifying AI Gateway URL configuration..."
    if ai_gateway_url.to_s.strip.empty?
      @diagnostics[:ai_gateway_url] = { status: 'ERROR', url: nil, error: 'AI Gateway URL not configured' }
      raise "Set 'Ai::Setting.instance.ai_gateway_url' to point to your AI Gateway instance"
    end

    begin
      uri = URI.parse(ai_gateway_url)
      raise URI::InvalidURIError, "URL must be HTTP or HTTPS" unless uri.is_a?(URI::HTTP) || uri.is_a?(URI::HTTPS)
    rescue URI::InvalidURIError => e
      @diagnostics[:ai_gateway_url] = { status: 'ERROR', url: ai_gateway_url, error: "Invalid URL format: #{e.message}" }
      raise "Invalid AI Gateway URL format: #{e.message}"
    end

    @diagnostics[:ai_gateway_url] = { status: 'OK', url: ai_gateway_url, scheme: uri.scheme, host: uri.host, port: uri.port }
    puts ">> AI Gateway URL configured: #{ai_gateway_url} ✔"
    puts ""
  end

  def verify_license_access!
    print "Verifying license access to code suggestions..."
    license_available = ::License.feature_available?(:code_suggestions)
    user_has_access = Ability.allowed?(@user, :access_code_suggestions)
    @diagnostics[:license] = { feature_available: license_available, user_has_access: user_has_access,
                               license_type: ::License.current&.plan || 'No license',
                               license_expires: ::License.current&.expires_at&.iso8601 }
    if user_has_access
      puts " ✔"
      return true
    end

    puts " ✗"
    puts "User #{@user.username} has no access to code suggestions, debugging cause..."
    if license_available
      @diagnostics[:license][:error] = "License valid but user lacks access"
      raise <<~MSG
        License is correct, but user does not have access to code suggestions.
        Please check user permissions and submit an issue to GitLab if needed.
      MSG
    end

    @diagnostics[:license][:error] = "License does not provide code suggestions feature"
    raise "License does not provide access to code suggestions, verify your license"
  end

  def verify_aigateway_access!
    puts "Checking AI Gateway accessibility..."
    healthz_url = "#{ai_gateway_url}/monitoring/healthz"
    start_time = Time.now
    begin
      response = Gitlab::HTTP.get(healthz_url, headers: { 'accept' => 'application/json' },
                                               allow_local_requests: true, timeout: 10)
      response_time = ((Time.now - start_time) * 1000).round(2)
      @diagnostics[:ai_gateway_health] = { status: response.code == 200 ? 'OK' : 'ERROR', url: healthz_url,
                                           http_code: response.code, response_time_ms: response_time,
                                           response_body: response.body.to_s.empty? ? nil : response.body }
      if response.code == 200
        puts ">> AI Gateway server is accessible ✔"
        puts "   Response time: #{response_time}ms"
        begin
          health_data = ::Gitlab::Json.parse(response.body)
          @diagnostics[:ai_gateway_health][:health_data] = health_data
          puts "   Health status: #{health_data['status'] || 'Unknown'}"
        rescue JSON::ParserError
          puts "   Health response: #{response.body[0, 100]}"
        end
        return
      else
        puts ">> AI Gateway returned HTTP #{response.code} ✗"
      end
    rescue *Gitlab::HTTP::HTTP_ERRORS => e
      @diagnostics[:ai_gateway_health] = { status: 'ERROR', url: healthz_url, error: e.class.name,
                                           error_message: e.message,
                                           response_time_ms: ((Time.now - start_time) * 1000).round(2) }
      puts "   Connection error: #{e.class.name} - #{e.message}"
    end

    raise <<~MSG
      Cannot access AI Gateway. Possible causes:
      - AI Gateway is not running
      - 'Ai::Setting.instance.ai_gateway_url' has an incorrect value
      - Network configuration doesn't allow communication between GitLab and AI Gateway
      - Firewall blocking the connection
      - SSL/TLS certificate issues (if using HTTPS)

    MSG
  end

  # Stand-in wording (see the file's header): TCP, TLS and proxy to the gateway; the Agent Platform service;
  # the WebSocket upgrade through GitLab's URL.
  def verify_connectivity!
    puts "Checking network connectivity to AI Gateway..."
    uri = URI.parse(ai_gateway_url)
    begin
      Socket.tcp(uri.host, uri.port, connect_timeout: 5).close
      puts ">> TCP connection to #{uri.host}:#{uri.port} established ✔"
    rescue StandardError => e
      puts ">> TCP connection to #{uri.host}:#{uri.port} failed: #{e.message} ✗"
    end
    if uri.scheme == 'https'
      begin
        socket = Socket.tcp(uri.host, uri.port, connect_timeout: 5)
        ssl = OpenSSL::SSL::SSLSocket.new(socket, OpenSSL::SSL::SSLContext.new.tap { |c| c.set_params(verify_mode: OpenSSL::SSL::VERIFY_PEER) })
        ssl.hostname = uri.host
        ssl.connect
        ssl.post_connection_check(uri.host)
        puts ">> TLS handshake with #{uri.host} succeeded (#{ssl.ssl_version}) ✔"
        ssl.close
      rescue StandardError => e
        puts ">> TLS handshake with #{uri.host} failed: #{e.message} ✗"
      end
    end
    proxy = ENV['https_proxy'] || ENV['HTTPS_PROXY'] || ENV['http_proxy'] || ENV['HTTP_PROXY']
    no_proxy = (ENV['no_proxy'] || ENV['NO_PROXY']).to_s.split(',').map(&:strip)
    if proxy.to_s.empty?
      puts ">> No HTTP proxy configured ✔"
    elsif no_proxy.any? { |entry| !entry.empty? && uri.host.end_with?(entry.sub(/\A\*/, '')) }
      puts ">> HTTP proxy configured, AI Gateway host excluded by NO_PROXY ✔"
    else
      puts "   HTTP proxy configured and #{uri.host} is not in NO_PROXY ⚠"
    end
    puts ""

    puts "Checking Duo Agent Platform service..."
    record = GitlabStandin.version_at_least?(19, 2) ? ApplicationSetting.current : Ai::Setting.instance
    service = record.respond_to?(:duo_agent_platform_service_url) ? record.duo_agent_platform_service_url.to_s : ''
    if service.empty?
      puts "   Duo Agent Platform service URL not configured ⚠"
    else
      host, port = service.split(':')
      begin
        Socket.tcp(host, Integer(port || 50052), connect_timeout: 5).close
        puts ">> Duo Agent Platform service at #{service} is reachable ✔"
      rescue StandardError => e
        puts ">> Duo Agent Platform service at #{service} is not reachable: #{e.message} ✗"
      end
    end
    puts ""
  end

  def verify_model_endpoints!
    puts "Checking self-hosted model configuration..."
    models = ::Ai::SelfHostedModel.includes(:feature_settings)
    if models.empty?
      @diagnostics[:self_hosted_models] = { status: 'WARNING', count: 0, models: [], error: 'No self-hosted models configured' }
      puts "   No self-hosted models configured ⚠"
      puts ""
      return
    end

    model_data = models.map do |model|
      status_icon = model.ga? ? '✔' : (model.release_state == 'BETA' ? '⚠' : '⚡')
      puts "   #{model.name} (#{model.model}): #{model.endpoint} #{status_icon}"
      puts "     Release state: #{model.release_state} | Provider: #{model.provider}"
      puts "     API token: #{model.api_token.to_s.empty? ? 'Missing' : 'Configured'}"
      { id: model.id, name: model.name, model_type: model.model, endpoint: model.endpoint,
        identifier: model.identifier.to_s.empty? ? 'default' : model.identifier, release_state: model.release_state,
        ga: model.ga?, provider: model.provider, has_api_token: !model.api_token.to_s.empty? }
    end
    @diagnostics[:self_hosted_models] = { status: 'OK', count: models.count, models: model_data,
                                          ga_models_count: models.count(&:ga?) }
    puts ""
  end

  def verify_feature_settings!
    puts "Checking feature settings and model assignments..."
    feature_data = []
    ::Ai::FeatureSetting.all.includes(:self_hosted_model).find_each do |setting|
      model = setting.self_hosted_model
      next unless model

      feature_data << { model_id: model.id, model_name: model.name, model_type: model.model,
                        feature_type: setting.feature, provider: setting.provider, enabled: true }
    end
    models_with_features_count = feature_data.map { |f| f[:model_id] }.uniq.count
    if feature_data.empty?
      @diagnostics[:feature_settings] = { status: 'WARNING', total_features: 0, features: [], models_with_features: 0,
                                          warning: 'No feature settings configured for any models' }
      puts "   No feature settings configured ⚠"
      puts "   Models may not be available for any GitLab Duo features"
    else
      @diagnostics[:feature_settings] = { status: 'OK', total_features: feature_data.count, features: feature_data,
                                          models_with_features: models_with_features_count }
      puts "   #{feature_data.count} feature settings configured across #{models_with_features_count} models ✔"
      feature_data.group_by { |f| f[:model_name] }.each do |model_name, features|
        puts "     #{model_name}: #{features.count} feature(s) assigned (#{features.map { |f| f[:feature_type] }.join(', ')})"
      end
    end
    puts ""
  end

  def test_request_flow!
    puts "Testing request flow to configured models..."
    models = ::Ai::SelfHostedModel.includes(:feature_settings)
    if models.empty?
      @diagnostics[:request_flow] = { status: 'SKIPPED', reason: 'No models configured to test' }
      puts "   Skipping request flow test - no models configured"
      puts ""
      return
    end

    model_tests = models.map do |model|
      puts "   Testing model: #{model.name} (#{model.model})..."
      result = test_model_endpoint(model)
      case result[:status]
      when 'OK' then puts "     ✔ Model endpoint accessible"
      when 'WARNING' then puts "     ⚠ Model endpoint returned non-200 status"
      when 'ERROR' then puts "     ✗ Model endpoint failed: #{result[:error]}"
      end
      result
    end
    @diagnostics[:request_flow] = { status: model_tests.any? { |t| t[:status] == 'OK' } ? 'OK' : 'ERROR',
                                    models_tested: model_tests.count, model_tests: model_tests }
    puts ""
  end

  def test_model_endpoint(model)
    test_url = "#{model.endpoint.chomp('/')}/v1/models"
    headers = { 'accept' => 'application/json' }
    headers['authorization'] = "Bearer #{model.api_token}" unless model.api_token.to_s.empty?
    response = Gitlab::HTTP.get(test_url, headers: headers, allow_local_requests: true, timeout: 10)
    { model_id: model.id, model_name: model.name, status: response.code < 400 ? 'OK' : 'WARNING',
      endpoint: test_url, http_code: response.code }
  rescue *Gitlab::HTTP::HTTP_ERRORS => e
    { model_id: model.id, model_name: model.name, status: 'ERROR', endpoint: test_url, error: e.class.name,
      error_message: e.message }
  end
end

username = ARGV.first.to_s[/\[(.*)\]/, 1]
username = nil if username.to_s.empty?
VerifySelfHostedSetupStandin.new(username).execute
