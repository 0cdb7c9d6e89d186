# What `gitlab-rake gitlab:duo:verify_self_hosted_setup[user]` prints in recent GitLab: sections of
# ✔/✗/⚠ lines and a DIAGNOSTIC SUMMARY JSON block. Checks are real: the URL in the stub database
# and an HTTP GET of its /monitoring/healthz.
require 'net/http'

user = ARGV.first.to_s[/\[(.*)\]/, 1].to_s
user = 'root' if user.empty?
settings = GitlabStandin.version_at_least?(19, 2) ? ApplicationSetting.current : Ai::Setting.instance
url = settings.ai_gateway_url.to_s
results = {}

puts 'GitLab Duo Self-Hosted setup verification'
puts "User: #{user}"
puts
puts 'AI Gateway URL'
if url.empty?
  puts '✗ AI Gateway URL is not set (Admin > GitLab Duo > AI Gateway URL)'
  results['ai_gateway_url'] = 'failed'
else
  puts "✔ AI Gateway URL is set: #{url}"
  results['ai_gateway_url'] = 'passed'
end
puts
puts 'AI Gateway health'
begin
  raise 'no URL' if url.empty?

  response = Net::HTTP.get_response(URI.join(url.end_with?('/') ? url : "#{url}/", 'monitoring/healthz'))
  if response.code == '200'
    puts '✔ AI Gateway /monitoring/healthz answered 200'
    results['healthz'] = 'passed'
  else
    puts "✗ AI Gateway /monitoring/healthz answered #{response.code}"
    results['healthz'] = 'failed'
  end
rescue StandardError => e
  puts "✗ AI Gateway is not reachable: #{e.message}"
  results['healthz'] = 'failed'
end
puts
puts 'License'
puts '✔ License includes GitLab Duo Self-Hosted'
results['license'] = 'passed'
puts
puts 'Feature settings'
if Ai::FeatureSetting.exists?(feature: %i[code_generations code_completions], provider: :self_hosted)
  puts '✔ Code Suggestions use a self-hosted model'
  results['feature_settings'] = 'passed'
else
  puts '⚠ No feature is set to a self-hosted model (Admin > GitLab Duo > Self-hosted models)'
  results['feature_settings'] = 'warning'
end
puts
puts '=' * 20 + ' DIAGNOSTIC SUMMARY ' + '=' * 20
puts JSON.pretty_generate({ 'user' => user, 'checks' => results,
                            'failed' => results.count { |_, v| v == 'failed' },
                            'warnings' => results.count { |_, v| v == 'warning' } })
# Like the real task, only some failures make it exit non-zero.
exit(results['ai_gateway_url'] == 'failed' ? 1 : 0)
